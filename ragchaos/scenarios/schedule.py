"""The open model's global arrival schedule, and the dispatcher that keeps to it.

``arrival_times(load, rng)`` is pure: the intended send times (seconds from the start) of every
request, for the whole run, from the stages' piecewise-linear rate. Constant arrivals sit where
the cumulative expected count crosses k + 1/2; Poisson arrivals where it crosses a running sum
of Exp(1) draws (the time-rescaling theorem), so a ramp is exact for both.

``Dispatcher`` walks the plan with an injected clock and sleep (gevent's in the runner, a fake
one in tests): it waits for each intended time, then hands the request to ``send`` unless
``max_in_flight`` requests are already outstanding, in which case it is dropped and counted.
A send that happens more than ``late_after_s`` after its intended time is counted late; the
request is still timed from its intended time (coordinated omission corrected) and from its
actual send time.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ragchaos.scenarios.loads import ArrivalLoad

__all__ = ["Arrival", "DispatchStats", "Dispatcher", "arrival_times"]


def _inverse(u: float, start: float, dur: float, r0: float, r1: float) -> float:
    """Time in a linear-rate segment at which the expected count since its start reaches ``u``."""
    a = (r1 - r0) / (2.0 * dur)
    if abs(a) < 1e-12:
        return start + u / r0
    return start + (-r0 + math.sqrt(max(0.0, r0 * r0 + 4.0 * a * u))) / (2.0 * a)


def arrival_times(load: ArrivalLoad, rng: random.Random) -> list[float]:
    """Intended send times in seconds from the start, ascending."""
    out: list[float] = []
    poisson = load.arrivals == "poisson"
    target = rng.expovariate(1.0) if poisson else 0.5
    cum = 0.0  # expected arrivals before the current segment
    for start, end, r0, r1 in load.segments():
        dur = end - start
        mass = dur * (r0 + r1) / 2.0
        while target < cum + mass:
            out.append(_inverse(target - cum, start, dur, r0, r1))
            target += rng.expovariate(1.0) if poisson else 1.0
        cum += mass
    return out


@dataclass(frozen=True)
class Arrival:
    t_s: float  # intended send time, seconds from the start
    index: int
    payload: Any = None


@dataclass
class DispatchStats:
    scheduled: int = 0
    sent: int = 0
    dropped: int = 0  # max_in_flight reached at the intended time: never sent
    late: int = 0  # sent more than late_after_s after the intended time
    max_lag_s: float = 0.0


class Dispatcher:
    """Send each arrival at its intended time; count what was late or dropped."""

    def __init__(
        self,
        arrivals: Sequence[Arrival],
        send: Callable[[Arrival, float, float], None],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        max_in_flight: int,
        late_after_s: float = 0.05,
        on_drop: Callable[[Arrival, float], None] | None = None,
    ) -> None:
        self.arrivals = arrivals
        self._send = send
        self._clock = clock
        self._sleep = sleep
        self.max_in_flight = max_in_flight
        self.late_after_s = late_after_s
        self._on_drop = on_drop
        self.in_flight = 0
        self.stats = DispatchStats(scheduled=len(arrivals))
        self._stopped = False

    def finished(self) -> None:
        """``send``'s request is done (called from the request's own greenlet or thread)."""
        self.in_flight -= 1

    def stop(self) -> None:
        self._stopped = True

    def run(self, start: float) -> DispatchStats:
        """Dispatch every arrival relative to ``start`` (a ``clock()`` reading)."""
        for i, arrival in enumerate(self.arrivals):
            if self._stopped:
                self._overdue(self.arrivals[i:], start)
                break
            intended = start + arrival.t_s
            wait = intended - self._clock()
            if wait > 0:
                self._sleep(wait)
            if self._stopped:
                self._overdue(self.arrivals[i:], start)
                break
            now = self._clock()
            if self.in_flight >= self.max_in_flight:
                self.stats.dropped += 1
                if self._on_drop is not None:
                    self._on_drop(arrival, intended)
                continue
            lag = now - intended
            if lag > self.late_after_s:
                self.stats.late += 1
            self.stats.max_lag_s = max(self.stats.max_lag_s, lag)
            self.in_flight += 1
            self.stats.sent += 1
            self._send(arrival, intended, now)
        return self.stats

    def _overdue(self, rest: Sequence[Arrival], start: float) -> None:
        """Stopped while behind schedule: the arrivals already due were never sent. They are
        dropped, not forgotten (a loaded generator would otherwise lose them silently); those
        still in the future were never part of the run."""
        now = self._clock()
        for arrival in rest:
            intended = start + arrival.t_s
            if intended > now:
                break
            self.stats.dropped += 1
            if self._on_drop is not None:
                self._on_drop(arrival, intended)
