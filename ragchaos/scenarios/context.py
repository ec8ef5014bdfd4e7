"""What every load user of a run shares, passed explicitly (no globals): ``RunContext``.

It holds the scenario's workbench (corpus, query mix), the client recorder, the phase clock,
the run's start time and the per-app retrieval-correctness tally, and it knows how to turn one
HTTP exchange into a recorded outcome (``finish``). No gevent or locust here, so it is tested
with plain calls.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.recorder import Recorder, classify_exception, classify_status
from ragchaos.scenarios.phases import PhaseClock
from ragchaos.scenarios.requests import RequestSpec, Workbench
from ragchaos.stack.templates import RequestTemplate

__all__ = ["AppTally", "FinishedRequest", "RunContext"]


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    """One finished request, as handed to the context's listeners (the live view)."""

    app: str
    kind: str
    outcome: str
    response_s: float  # from the intended send (open model) or the actual send (closed)
    end: float  # epoch seconds
    degraded: bool = False  # an ok answer the target marked degraded (its template's ``degraded`` path)


@dataclass
class AppTally:
    """Running figures for the live view and retrieval correctness of one app."""

    requests: int = 0
    errors: int = 0
    scored: int = 0
    hits: int = 0
    dropped: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    recent: Histogram = field(default_factory=lambda: Histogram(significant_figures=2))
    overall: Histogram = field(default_factory=lambda: Histogram(significant_figures=2))


class RunContext:
    def __init__(
        self,
        bench: Workbench,
        apps: Mapping[str, str],
        *,
        recorder: Recorder | None = None,
        phases: PhaseClock | None = None,
        t0: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bench = bench
        self.scenario = bench.scenario
        self.apps = dict(apps)  # app name -> base URL
        self.recorder = recorder or Recorder()
        self.phases = phases or PhaseClock(self.scenario.load.stage_bounds(), self.scenario.warmup)
        self.t0 = t0 if t0 is not None else clock()
        self.clock = clock
        self.top_k = self.scenario.workload.top_k
        self.stream = self.scenario.workload.stream
        self.timeout_s = self.scenario.request_timeout
        self._lock = threading.Lock()
        self.tally: dict[str, AppTally] = {app: AppTally() for app in self.apps}
        # how each app is spoken to: ours and the user's alike (ragchaos.stack.targets)
        self.targets = {app: self.scenario.target(app) for app in self.apps}
        # called with a FinishedRequest after each request is recorded (the live view's counts);
        # empty in a plain run, so the answer's body is parsed for "degraded" only when watched
        self.listeners: list[Callable[[FinishedRequest], None]] = []

    def request(self, app: str, spec: RequestSpec) -> tuple[str, str, Any, dict[str, str]]:
        """(method, path, JSON body, headers) of ``spec`` for ``app``, from its template."""
        target = self.targets[app]
        template = target.query if spec.kind == "query" else target.ingest
        return spec.render(app, template, self.top_k, self.stream)

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def phase_at(self, t_epoch: float) -> str:
        return self.phases.at(t_epoch - self.t0)

    def finish(
        self,
        app: str,
        spec: RequestSpec,
        *,
        intended: float | None,
        actual: float,
        end: float,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        error: BaseException | None = None,
        ttft: float | None = None,
    ) -> str:
        """Classify, record and tally one finished request; returns its outcome."""
        if status == 0:
            outcome = classify_exception(error) if error is not None else "other"
        else:
            outcome = classify_status(status, headers, body)
        phase = self.phase_at(intended if intended is not None else actual)
        self.recorder.record(app, spec.kind, phase, intended_start=intended, actual_start=actual, end=end,
                             outcome=outcome, ttft=ttft if outcome == "ok" else None)
        hit = self._scored_hit(spec, outcome, body, self.targets[app].query if app in self.targets else None)
        start = intended if intended is not None else actual
        with self._lock:
            t = self.tally[app]
            t.requests += 1
            t.by_outcome[outcome] = t.by_outcome.get(outcome, 0) + 1
            if outcome != "ok":
                t.errors += 1
            us = (end - start) * 1_000_000
            t.recent.record_us(us)
            t.overall.record_us(us)
            if hit is not None:
                t.scored += 1
                t.hits += int(hit)
        if self.listeners:
            done = FinishedRequest(app, spec.kind, outcome, end - start, end,
                                   outcome == "ok" and self._degraded(app, spec, body))
            for listener in self.listeners:
                listener(done)
        return outcome

    def _degraded(self, app: str, spec: RequestSpec, body: bytes | str | None) -> bool:
        target = self.targets.get(app)
        template = None if target is None else (target.query if spec.kind == "query" else target.ingest)
        if template is None or not body:
            return False
        try:
            return template.is_degraded(json.loads(body))
        except ValueError:
            return False  # a streamed answer is not one JSON document: not judged here

    def dropped(self, app: str, spec: RequestSpec | None = None, intended: float | None = None) -> None:
        """An arrival never sent (``max_in_flight`` outstanding at its intended time): recorded in
        the phase of its intended time, as a failure of the run apart from the app's errors."""
        kind = spec.kind if isinstance(spec, RequestSpec) else "query"
        self.recorder.dropped(app, kind, self.phase_at(intended if intended is not None else self.clock()))
        with self._lock:
            self.tally[app].dropped += 1

    @staticmethod
    def _scored_hit(spec: RequestSpec, outcome: str, body: bytes | str | None,
                    template: RequestTemplate | None) -> bool | None:
        """Whether an answered query's sources include its known source document (None: not
        scored: not a query, not answered, degraded, or the template says nothing of sources)."""
        if spec.question is None or outcome != "ok" or not body or template is None:
            return None
        try:
            data: Any = json.loads(body)
        except ValueError:
            return None
        if template.is_degraded(data):
            return None
        sources = template.source_ids(data)
        if sources is None:
            return None
        return spec.question.source_doc_id in sources

    def tally_delta(self) -> dict[str, dict[str, Any]]:
        """What was tallied since the last call (a Locust worker ships it to the master)."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for app, t in self.tally.items():
                out[app] = {"requests": t.requests, "errors": t.errors, "scored": t.scored, "hits": t.hits,
                            "dropped": t.dropped, "by_outcome": dict(t.by_outcome), "recent": t.recent.encode()}
                self.tally[app] = AppTally()
        return out

    def merge_tally(self, delta: Mapping[str, Mapping[str, Any]]) -> None:
        with self._lock:
            for app, d in delta.items():
                t = self.tally.setdefault(app, AppTally())
                for key in ("requests", "errors", "scored", "hits", "dropped"):
                    setattr(t, key, getattr(t, key) + int(d.get(key, 0)))
                for outcome, n in d.get("by_outcome", {}).items():
                    t.by_outcome[outcome] = t.by_outcome.get(outcome, 0) + int(n)
                if d.get("recent"):
                    h = Histogram.decode(d["recent"])
                    t.recent.add(h)
                    t.overall.add(h)

    def live_snapshot(self) -> dict[str, dict[str, Any]]:
        """Per app: requests, errors, p99 of the last interval and overall; resets the interval."""
        out = {}
        with self._lock:
            for app, t in self.tally.items():
                out[app] = {
                    "requests": t.requests,
                    "errors": t.errors,
                    "dropped": t.dropped,
                    "p99_recent_ms": t.recent.percentile_us(99) / 1000.0,
                    "p99_ms": t.overall.percentile_us(99) / 1000.0,
                    "recent_count": t.recent.count,
                }
                t.recent = Histogram(significant_figures=2)
        return out
