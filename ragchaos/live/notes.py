"""Plain-language notes while the load runs, from the report's own logic, not a second copy of it.

Every ``note_window_s`` seconds the session hands ``WindowResult`` the window just ended: what the
live listener recorded into a ``Recorder`` of its own (the same class, outcome classes and
histograms as the run's), the apps' counter deltas and the provider's counts for each key. It
builds a ``RunResult`` of the window, its requests under the run's phase labels (``live`` when
the run has none), exactly as results.json would hold it, and every ``NoteSource`` reads that:

- ``MechanismNotes`` measures with ``reports.analysis.figures`` and the mechanism registry
  (``reports.mechanisms``: retries, pacing, cache, shedding, fallback, breaker), the functions
  the report's verdicts call, and only words the numbers they return;
- ``CheckNotes`` judges the scenario's ``checks:`` over the window with the report's one
  evaluator (``reports.checks.evaluate``);
- ``ObservationNotes`` runs the report's observation rules (``reports.observations``: a fault
  that reached nothing, 429s met with retries, ...) over the window;
- a source built on another registry of rules over a ``RunResult`` is one more class with the
  same ``notes(result, phase)`` method (``register_note_source``, or handed to the session).

A window with fewer than ``min_requests`` requests for an app says "insufficient data" for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ragchaos.core.registry import Registry
from ragchaos.live.feeds import Deltas
from ragchaos.reports.analysis import ALL, Figures, figures
from ragchaos.reports.checks.grammar import CheckError, parse_check
from ragchaos.reports.checks.spec import CheckSpec
from ragchaos.reports.mechanisms import Context, get
from ragchaos.reports.recorder import Recorder
from ragchaos.reports.results import (
    AppResult,
    Phase,
    PhaseResult,
    ProviderEndpointStats,
    RunInfo,
    RunResult,
    ScenarioInfo,
)
from ragchaos.scenarios.phases import phase_kind

__all__ = ["LIVE_PHASE", "MechanismNotes", "Note", "NoteSource", "ObservationNotes", "WindowResult", "note_sources",
           "register_note_source"]

LIVE_PHASE = "live"


@dataclass(frozen=True)
class Note:
    app: str | None  # None: about the run as a whole
    text: str
    evidence: str = ""  # the figures behind the sentence
    level: str = "info"  # info | bad | good | quiet (insufficient data)
    source: str = ""


class NoteSource(Protocol):
    name: str

    def notes(self, result: RunResult, phase: str) -> list[Note]: ...


_SOURCES: Registry[Callable[[], NoteSource]] = Registry("note source")


def register_note_source(name: str, factory: Callable[[], NoteSource]) -> None:
    _SOURCES.add(name, factory)


def note_sources(names: Sequence[str] | None = None) -> list[NoteSource]:
    return [_SOURCES.get_or_raise(n)() for n in (names or list(_SOURCES))]


class WindowResult:
    """A ``RunResult`` of one live window, built from what the window saw."""

    def __init__(self, apps: Sequence[str], slo_ms: Mapping[str, float], load_model: str = "open") -> None:
        self.apps = list(apps)
        self.slo_ms = dict(slo_ms)
        self.load_model = load_model

    def build(self, recorder: Recorder, deltas: Deltas, started_at: float, ended_at: float,
              phases: Sequence[str] = (LIVE_PHASE,)) -> RunResult:
        """``phases``: the phase labels the window's requests carry, in order (the last is the one
        the window ended in). The server-side deltas cannot be split by phase: they go to the last."""
        duration = max(ended_at - started_at, 1e-3)
        info = ScenarioInfo(name="live", duration_s=duration, load_model=self.load_model,
                            slo_ms=self.slo_ms)
        names = list(dict.fromkeys(phases)) or [LIVE_PHASE]
        apps = {}
        for app in self.apps:
            provider = {ep: ProviderEndpointStats(**{k: int(v) for k, v in counts.items()})
                        for ep, counts in deltas.provider.get(app, {}).items()}
            counters = {**deltas.counters.get(app, {}), **deltas.gauges.get(app, {})}
            apps[app] = AppResult(phases={
                name: PhaseResult(client=recorder.client_stats(app, name), counters=counters if last else {},
                                  provider=provider if last else {})
                for name, last in ((n, i == len(names) - 1) for i, n in enumerate(names))})
        # each phase spans the whole window: a rate (per second of the phase) is then per second
        # of the window, an understatement for a phase that began inside it
        spans = [Phase(name=n, kind=phase_kind(n), start_s=0.0, end_s=duration)
                 for n in names]
        return RunResult(scenario=info, run=RunInfo(started_at=started_at, ended_at=ended_at), phases=spans,
                         apps=apps)


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.1 or x == 0 else f"{x:.1%}"


_CAUSES = {"429": "429 rate limits passed on", "5xx": "server errors", "timeout": "timeouts",
           "reset": "connection resets", "shed": "fast refusals (503 + Retry-After)", "quota": "tenant quota",
           "other": "other errors"}


class MechanismNotes:
    """Sentences over the report's figures and mechanism measurements for one window."""

    name = "mechanisms"

    def __init__(self, min_requests: int = 20) -> None:
        self.min_requests = min_requests

    def _measure(self, mechanism: str, result: RunResult, app: str, phase: str, figs: Figures) -> Any:
        return get(mechanism).measure(Context(result, app, phase, figs))

    def notes(self, result: RunResult, phase: str) -> list[Note]:
        out: list[Note] = []
        for app in result.apps:
            figs = figures(result, app, ALL if len(result.phases) > 1 else phase)
            if figs.requests < self.min_requests:
                out.append(Note(app, f"insufficient data ({figs.requests} requests in the window, "
                                     f"{self.min_requests} needed)", level="quiet", source=self.name))
                continue
            out.extend(self._app_notes(result, app, phase, figs))
        return out

    def _app_notes(self, result: RunResult, app: str, phase: str, figs: Figures) -> list[Note]:
        notes: list[Note] = []
        rate = figs.error_rate
        worst = sorted(((n, c) for c, n in figs.errors.items() if n), reverse=True)
        causes = ", ".join(f"{_CAUSES.get(c, c)} {_pct(n / figs.requests)}" for n, c in worst[:3])
        evidence = f"{figs.requests} requests, {figs.requests - figs.ok} errors"
        if rate >= 0.05:
            notes.append(Note(app, f"{_pct(rate)} of requests fail ({causes})", evidence, "bad", self.name))
        elif rate > 0:
            notes.append(Note(app, f"errors low, {_pct(rate)} ({causes})", evidence, "info", self.name))
        else:
            notes.append(Note(app, "every request answered", evidence, "good", self.name))
        limited = self._measure("pacing", result, app, phase, figs)
        if limited.value:
            notes.append(Note(app, f"the provider answered {int(limited.value)} calls with 429",
                              f"pacing: {limited.detail}", "info", self.name))
        retries = self._measure("retries", result, app, phase, figs)
        if retries.value:
            notes.append(Note(app, f"retried {int(retries.value)} dependency calls", retries.detail,
                              "good" if rate < 0.05 else "info", self.name))
        fallback = self._measure("fallback", result, app, phase, figs)
        if fallback.value:
            notes.append(Note(app, f"served {int(fallback.value)} degraded answers instead of errors",
                              fallback.detail, "good", self.name))
        shed = self._measure("shedding", result, app, phase, figs)
        if shed.value:
            notes.append(Note(app, f"refused {int(shed.value)} requests fast to protect itself",
                              shed.detail, "info", self.name))
        breaker = self._measure("breaker", result, app, phase, figs)
        if breaker.value:
            notes.append(Note(app, f"a circuit breaker opened ({breaker.detail})", breaker.detail,
                              "info", self.name))
        cache = self._measure("cache", result, app, phase, figs)
        if cache.value:
            notes.append(Note(app, f"{_pct(cache.value)} of lookups served from cache", cache.detail,
                              "good", self.name))
        return notes


register_note_source(MechanismNotes.name, MechanismNotes)


_STATUS = {"pass": ("holds", "good"), "fail": ("fails", "bad"), "warn": ("fails (a warning)", "info"),
           "insufficient": ("cannot be judged yet", "quiet")}


class CheckNotes:
    """The scenario's checks, judged over the window by the report's one evaluator
    (``reports.checks.evaluate``): a check about the phase the window is in (or about no phase)
    becomes "reference.fault.error_rate <= 10% holds (0.0%)" (over the window). Checks
    against a baseline build, or about a phase the window did not see, are left to the report."""

    name = "checks"

    def __init__(self, specs: Sequence[CheckSpec]) -> None:
        self.specs = []
        for spec in specs:
            try:
                check = parse_check(spec.check)
            except CheckError:
                continue  # the scenario's validation reports it
            if not check.against_baseline:
                self.specs.append((spec, check))

    def notes(self, result: RunResult, phase: str) -> list[Note]:
        from ragchaos.reports.checks.evaluate import evaluate

        seen = {p.name for p in result.phases}
        specs = [spec for spec, check in self.specs if (check.phase == ALL or check.phase in seen)
                 and (check.other_phase is None or check.other_phase in seen)]
        if not specs:
            return []
        window = f"{result.duration_s:.0f} s"
        out = []
        for verdict in evaluate(result, specs).checks:
            if verdict.measured == "no data":
                continue  # the app sent nothing in that phase of the window: nothing to say
            if verdict.metric == "load_delivery" and verdict.state == "pass":
                continue  # the load was delivered: said only when it was not (the dropped tile shows it)
            word, level = _STATUS.get(verdict.status or ("pass" if verdict.passed else "fail"), ("?", "info"))
            if verdict.measured == "not judged":  # e.g. it requires a mechanism the app does not report
                word, level = "not judged", "quiet"
            measured = verdict.reason if verdict.status == "insufficient" or verdict.measured == "not judged" \
                else verdict.measured
            who = f"{verdict.app}: " if verdict.app and not verdict.expr.startswith(f"{verdict.app}.") else ""
            out.append(Note(verdict.app, f"{who}{verdict.expr} {word} ({measured})",
                            f"over the last {window}; {verdict.reason or verdict.detail}".rstrip("; "), level,
                            self.name))
        return out


class ObservationNotes:
    """The report's observation rules (``reports.observations``), run over the window: the same
    sentence the report's "Observations" section would print for a run shaped like this window."""

    name = "observations"
    # the rules a window can feed: hit@k is not scored while the load runs (sources_missing would
    # speak on every window), and a fault's reach and the proxy's timing are judged once, per run
    WINDOW_RULES = ("retry_storm", "p99_tracked_fault")

    def __init__(self, rules: Sequence[str] = WINDOW_RULES) -> None:
        self.rules = list(rules)

    def notes(self, result: RunResult, phase: str) -> list[Note]:
        from ragchaos.reports.observations import observe

        return [Note(o.app, o.text, o.evidence, "bad", self.name) for o in observe(result, only=self.rules)]


register_note_source(ObservationNotes.name, ObservationNotes)


def timestamped(notes: Sequence[Note], t: float | None = None) -> list[dict[str, Any]]:
    t = time.time() if t is None else t
    return [{"t": t, "app": n.app, "text": n.text, "evidence": n.evidence, "level": n.level, "source": n.source}
            for n in notes]
