"""One frame per second: what the page draws for each app, measured apart from any drawing.

Client side, per app and per second of completion:
- ``rps``, ``p50_ms`` and ``p99_ms`` come from the run's own ``Recorder`` (its 1 s timeline, the
  same HDR recording the report's intervals are made of), so the page and the report cannot
  disagree about a second;
- error, degraded and goodput shares come from ``SecondCounter``, fed by the run context's
  listener with every finished request: errors are the recorder's outcome classes (shed 503s
  and 429s included, as in the report's error rate); degraded is an ok answer the app marked
  degraded (the target's ``degraded`` path); goodput is ok answers within the SLO of their kind.
  Its request count is kept beside the recorder's (``check``) so a test can see the two agree.

A second is only framed once it is over (its completions may still arrive until then), so the
page runs one to two seconds behind the clock; ``BENCHMARKS.md`` has the measured lag.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.recorder import Recorder
from ragchaos.scenarios.context import FinishedRequest

__all__ = ["AppSecond", "FrameBuilder", "SecondCounter"]


@dataclass(slots=True)
class AppSecond:
    requests: int = 0
    ok: int = 0
    degraded: int = 0
    good: int = 0  # ok and within the SLO of its kind
    by_outcome: dict[str, int] = field(default_factory=dict)


class SecondCounter:
    """Per (app, second of completion) counts; thread-safe, bounded to ``keep_s`` seconds."""

    def __init__(self, slo_ms: Mapping[str, float], keep_s: int = 900) -> None:
        self.slo_s = {kind: ms / 1000.0 for kind, ms in slo_ms.items()}
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._cells: dict[tuple[str, int], AppSecond] = {}
        self._newest = 0

    def add(self, f: FinishedRequest) -> None:
        second = int(f.end)
        ok = f.outcome == "ok"
        slo = self.slo_s.get(f.kind)
        with self._lock:
            cell = self._cells.get((f.app, second))
            if cell is None:
                cell = self._cells[(f.app, second)] = AppSecond()
            cell.requests += 1
            cell.by_outcome[f.outcome] = cell.by_outcome.get(f.outcome, 0) + 1
            if ok:
                cell.ok += 1
                cell.degraded += int(f.degraded)
                cell.good += int(slo is None or f.response_s <= slo)
            if second > self._newest:
                self._newest = second
                horizon = second - self.keep_s
                for key in [k for k in self._cells if k[1] < horizon]:
                    del self._cells[key]

    def get(self, app: str, second: int) -> AppSecond:
        with self._lock:
            cell = self._cells.get((app, second))
            return AppSecond(cell.requests, cell.ok, cell.degraded, cell.good, dict(cell.by_outcome)) if cell \
                else AppSecond()


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class FrameBuilder:
    """Client-side figures of one finished second for every app."""

    def __init__(self, recorder: Recorder, counter: SecondCounter, apps: Sequence[str],
                 t0: Callable[[], float]) -> None:
        self.recorder = recorder
        self.counter = counter
        self.apps = list(apps)
        self.t0 = t0

    def client(self, second: int) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for app in self.apps:
            t0 = self.t0()
            rows = [r for r in self.recorder.intervals(app, t0, since=second) if round(r.t_s + t0) == second]
            hist = Histogram(significant_figures=2)
            requests = 0
            for r in rows:
                requests += r.requests
                if r.hdr:
                    hist.add(Histogram.decode(r.hdr))
            counted = self.counter.get(app, second)
            errors = counted.requests - counted.ok
            out[app] = {
                "rps": requests,
                "p50_ms": hist.percentile_us(50) / 1000.0 if requests else None,
                "p99_ms": hist.percentile_us(99) / 1000.0 if requests else None,
                "error_share": _share(errors, counted.requests),
                "degraded_share": _share(counted.degraded, counted.ok),
                "goodput": counted.good,
                "shed": counted.by_outcome.get("shed", 0),
                # arrivals the load generator never sent so far (max_in_flight): a failure of the
                # load, not of the app, shown apart so a starved load never looks like a calm app
                "dropped": self.recorder.dropped_total(app),
                "outcomes": counted.by_outcome,
                "check": counted.requests,  # must equal rps: the listener saw what the recorder saw
            }
        return out
