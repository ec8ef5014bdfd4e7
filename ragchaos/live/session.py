"""One live session: the per-second loop that turns measurements into frames, notes and state.

``LiveSession`` owns nothing it did not start: it is *attached* to a run (``attach``: the run
context, the stack's provider and app URLs, the fault board and, for ``ragchaos up``, the load
control) and from then on, once a second, just after the second ends, it

1. polls the servers (``ServerFeeds``: provider ``/_stats``, each app's ``/metrics``), each in a
   greenlet of its own with a short timeout, so a slow app costs figures, not the frame;
2. builds the frame of the second that just ended (``FrameBuilder``: the recorder's 1 s
   timeline plus the listener's counts) and adds the server-side figures;
3. every ``note_window_s``, builds a ``RunResult`` of the window and asks the note sources;
4. stops a load or clears a fault that has outlived its limit.

Frames are kept for ``history_s`` seconds (a page that connects late draws the past) and
published to every open event stream. Clock, sleep and spawn are injected.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

from ragchaos.live.board import FaultBoard
from ragchaos.live.feeds import Deltas, ServerFeeds, breaker_states
from ragchaos.live.frames import FrameBuilder, SecondCounter
from ragchaos.live.notes import LIVE_PHASE, NoteSource, WindowResult, note_sources, timestamped
from ragchaos.live.settings import LiveSettings
from ragchaos.reports.counters import Counters
from ragchaos.reports.recorder import Recorder
from ragchaos.scenarios.context import FinishedRequest, RunContext

if TYPE_CHECKING:  # the load imports Locust, which patches the process with gevent
    from ragchaos.live.load import LoadControl

__all__ = ["Attachment", "LiveSession"]

_ROLLING_S = 5  # server-side ratios (attempts per answer, cache hit rate) over this many seconds


@dataclass
class Attachment:
    ctx: RunContext
    feeds: ServerFeeds
    board: FaultBoard | None = None
    load: LoadControl | None = None
    phase_of: Callable[[float], str] | None = None  # epoch seconds -> the run's phase label
    plan: list[dict[str, Any]] | None = None  # a scenario's phases and faults, drawn ahead of time


class LiveSession:
    def __init__(self, settings: LiveSettings, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Any] = gevent.sleep,
                 sources: Sequence[NoteSource] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.sleep = sleep
        self.sources = list(sources) if sources is not None else note_sources()
        for s in self.sources:
            if hasattr(s, "min_requests"):
                s.min_requests = settings.min_requests
        self.counter = SecondCounter(settings.slo_ms)
        self.attached: Attachment | None = None
        self.frames: collections.deque[dict[str, Any]] = collections.deque(maxlen=settings.history_s)
        self.notes: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=200)
        self.status = "starting"
        self.report: str | None = None  # the report's URL path once a scenario run has one
        self.report_file: Path | None = None
        self._changed = Event()
        self._lock = threading.Lock()
        self._window = Recorder()
        self._window_phases: list[str] = []
        self._window_deltas = Deltas()
        self._window_started = clock()
        self._recent_server: collections.deque[tuple[Deltas, dict[str, int]]] = collections.deque(maxlen=_ROLLING_S)
        self._loop: gevent.Greenlet | None = None
        self._stopped = False
        self.frame_cost_s: collections.deque[float] = collections.deque(maxlen=600)  # CPU per frame, polls aside
        self.notes_cost_s: collections.deque[float] = collections.deque(maxlen=60)  # of which the notes

    # -- wiring ------------------------------------------------------------------------------

    def configure(self, *, slo_ms: dict[str, float] | None = None, apps: list[str] | None = None) -> None:
        """The run's own SLO and apps, known only once its scenario is prepared (run --live)."""
        changes: dict[str, Any] = {}
        if slo_ms:
            changes["slo_ms"] = slo_ms
        if apps:
            changes["apps"] = tuple(apps)
        self.settings = dataclasses.replace(self.settings, **changes)
        self.counter = SecondCounter(self.settings.slo_ms)

    def attach(self, attachment: Attachment) -> None:
        self.attached = attachment
        attachment.ctx.listeners.append(self._finished)
        self.builder = FrameBuilder(attachment.ctx.recorder, self.counter, list(attachment.ctx.apps),
                                    lambda: attachment.ctx.t0)
        self.window_result = WindowResult(list(attachment.ctx.apps), self.settings.slo_ms)
        self._window_started = self.clock()
        self.say("ready")

    def _finished(self, f: FinishedRequest) -> None:
        self.counter.add(f)
        start = f.end - f.response_s
        # the run's own phase label (as the runner labels it: by the request's start), so the
        # scenario's checks about that phase can be judged over the window
        a = self.attached
        phase = a.phase_of(start) if a is not None and a.phase_of is not None else LIVE_PHASE
        if phase not in self._window_phases:
            self._window_phases.append(phase)
        self._window.record(f.app, f.kind, phase, intended_start=start, actual_start=start, end=f.end,
                            outcome=f.outcome)

    def say(self, status: str) -> None:
        """A line of the run's own output (the stack starting, a phase, the report) for the page."""
        with self._lock:
            self.status = status
            self.log.append({"t": self.clock(), "text": status})
        self.publish()

    def finished(self, report_file: Path | None) -> None:
        self.report_file = report_file
        self.report = "/report/" if report_file is not None and report_file.exists() else None
        self.say("run finished" + (": report ready" if self.report else ""))

    # -- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = gevent.spawn(self._run)

    def stop(self) -> None:
        self._stopped = True
        if self._loop is not None:
            self._loop.kill(block=True, timeout=2)
        self.publish()

    def _run(self) -> None:
        last: int | None = None
        while not self._stopped:
            now = self.clock()
            # wake just after the second ends: its completions are in, nothing of the next is framed
            self.sleep(math.floor(now) + 1.05 - now)
            if self.attached is None:
                continue
            newest = math.floor(self.clock()) - 1
            # a tick that took longer than a second (a stalled machine) leaves no hole: the
            # seconds it missed are framed too, from the recorder (the servers are polled once)
            for second in range(max(newest - 9, (last or newest - 1) + 1), newest + 1):
                try:
                    self.tick(second, poll=second == newest)
                except Exception as exc:  # the page must keep going; say what went wrong on it
                    self.say(f"frame of {second} failed: {type(exc).__name__}: {exc}")
            last = newest

    def _poll(self) -> None:
        a = self.attached
        assert a is not None
        jobs = [gevent.spawn(a.feeds.poll_provider)] + [gevent.spawn(a.feeds.poll_metrics, app) for app in a.ctx.apps]
        gevent.joinall(jobs, timeout=a.feeds.timeout_s + 0.1)
        for job in jobs:
            job.kill(block=False)

    def tick(self, second: int, *, poll: bool = True) -> dict[str, Any]:
        """Frame ``second`` (an epoch second that has ended) and publish it."""
        a = self.attached
        assert a is not None
        if poll:
            self._poll()  # waits on the network: other greenlets run meanwhile, so it is not timed here
        started = time.process_time()  # the rest does not yield: its CPU time is the view's own
        deltas = a.feeds.take()
        client = self.builder.client(second)
        ok = {app: sum(n for o, n in c["outcomes"].items() if o == "ok") for app, c in client.items()}
        self._recent_server.append((deltas, ok))
        self._merge_window(deltas)
        apps = {}
        for app, c in client.items():
            apps[app] = {**c, **self._server_figures(app, deltas)}
        frame = {
            "t": second,
            "apps": apps,
            "phase": a.phase_of(second + 0.5) if a.phase_of else None,
            "load": a.load.describe() if a.load else None,
            "faults": [b.id for b in a.board.active()] if a.board else [],
        }
        with self._lock:
            self.frames.append(frame)
        if a.load is not None and a.load.expire():
            self.say(f"load stopped after {self.settings.max_load_s:g}s, the limit")
        if a.board is not None:
            for band in a.board.expire():
                self.say(f"{band.label} cleared after {self.settings.max_fault_s:g}s, the limit")
        if self.clock() - self._window_started >= self.settings.note_window_s:
            notes_started = time.process_time()
            self._notes()
            self.notes_cost_s.append(time.process_time() - notes_started)
        self.frame_cost_s.append(time.process_time() - started)
        self.publish()
        return frame

    def _server_figures(self, app: str, deltas: Deltas) -> dict[str, Any]:
        rolled_calls = sum(d.provider_total(app, "requests") for d, _ in self._recent_server)
        rolled_ok = sum(ok.get(app, 0) for _, ok in self._recent_server)
        merged: dict[str, float] = {}
        for d, _ in self._recent_server:
            for k, v in d.counters.get(app, {}).items():
                merged[k] = merged.get(k, 0.0) + v
        c = Counters(merged)
        lookups = sum(v for k, v in c.by("ragchaos_cache_requests_total", "layer").items() if k != "semantic")
        hits = sum(c.count("ragchaos_cache_requests_total", layer=k, result="hit") or 0.0
                   for k in c.by("ragchaos_cache_requests_total", "layer") if k != "semantic")
        speaks = app in deltas.gauges or bool(deltas.counters.get(app))
        return {
            "provider_429": int(deltas.provider_total(app, "rate_limited")),
            "provider_calls": int(deltas.provider_total(app, "requests")),
            "provider_retries_seen": int(deltas.provider_total(app, "retries_seen")),
            # provider calls per ok answer over the last few seconds (None: no answers to divide by)
            "attempts_per_answer": round(rolled_calls / rolled_ok, 2) if rolled_ok else None,
            "cache_hit_rate": hits / lookups if lookups else None,
            "shed_app": int(Counters(deltas.counters.get(app, {})).count("ragchaos_shed_total") or 0) if speaks
            else None,
            "breakers": breaker_states(deltas.gauges.get(app, {})),
        }

    def _merge_window(self, d: Deltas) -> None:
        w = self._window_deltas
        for app, eps in d.provider.items():
            for ep, counts in eps.items():
                cell = w.provider.setdefault(app, {}).setdefault(ep, {})
                for k, v in counts.items():
                    cell[k] = cell.get(k, 0.0) + v
        for app, counters in d.counters.items():
            cell = w.counters.setdefault(app, {})
            for k, v in counters.items():
                cell[k] = cell.get(k, 0.0) + v
        for app, gauges in d.gauges.items():
            w.gauges[app] = dict(gauges)

    def _notes(self) -> None:
        started, ended = self._window_started, self.clock()
        window, deltas, phases = self._window, self._window_deltas, self._window_phases
        self._window, self._window_deltas, self._window_started = Recorder(), Deltas(), ended
        self._window_phases = []
        a = self.attached
        last = a.phase_of(ended) if a is not None and a.phase_of is not None else LIVE_PHASE
        phases = [p for p in phases if p != last] + [last]
        result = self.window_result.build(window, deltas, started, ended, phases)
        fresh = []
        for source in self.sources:
            try:
                fresh.extend(source.notes(result, last))
            except Exception as exc:  # one broken rule must not stop the page
                fresh.append(_broken(source, exc))
        with self._lock:
            self.notes.extend(timestamped(fresh, ended))

    # -- reading (the web app) ----------------------------------------------------------------

    def snapshot(self, since: int | None = None) -> dict[str, Any]:
        a = self.attached
        with self._lock:
            frames = [f for f in self.frames if since is None or f["t"] > since]
            notes = list(self.notes)[-30:]
            log = list(self.log)[-30:]
        return {
            "apps": list(a.ctx.apps) if a else list(self.settings.apps),
            "slo_ms": self.settings.slo_ms,
            "status": self.status,
            "controls": self.settings.controls and a is not None and a.load is not None,
            "frames": frames,
            "bands": a.board.to_json() if a and a.board else [],
            "load_events": [{"t": e.t, "text": e.text} for e in (a.load.events if a and a.load else [])][-50:],
            "load": a.load.describe() if a and a.load else None,
            "notes": notes,
            "log": log,
            "plan": a.plan if a else None,
            "report": self.report,
            "now": self.clock(),
            "tick_cpu_ms": self._tick_cpu_ms(),
        }

    def _tick_cpu_ms(self) -> dict[str, Any] | None:
        """CPU time of the per-second work (frame, server figures, notes; the polls' network waits
        aside) in this process: what the view costs the harness. ``notes`` is the part of it spent
        on the notes, every ``note_window_s``."""
        def summary(values: collections.deque[float]) -> dict[str, float] | None:
            costs = sorted(values)
            if not costs:
                return None
            return {"n": len(costs), "p50": round(costs[len(costs) // 2] * 1000, 3),
                    "max": round(costs[-1] * 1000, 3), "mean": round(sum(costs) / len(costs) * 1000, 3)}

        out: dict[str, Any] | None = summary(self.frame_cost_s)
        if out is not None:
            out["notes"] = summary(self.notes_cost_s)
        return out

    def publish(self) -> None:
        """Wake every open event stream (a frame, a note, a press): each waits on the event of
        its moment, and a fresh one is put in place, so no reader clears another's wake-up."""
        with self._lock:
            event, self._changed = self._changed, Event()
        event.set()

    def wait(self, timeout: float) -> bool:
        """Until something changed or ``timeout``; True if something did."""
        return bool(self._changed.wait(timeout))


def _broken(source: NoteSource, exc: Exception) -> Any:
    from ragchaos.live.notes import Note

    return Note(None, f"note source {source.name} failed: {exc}", level="quiet", source=source.name)
