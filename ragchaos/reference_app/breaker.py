"""A per-dependency circuit breaker: closed, open, half-open with exactly one probe.

In-house because none of the async libraries gives both a single half-open probe and state
listeners; the API follows pybreaker's.

- closed: calls pass; ``failure_threshold`` consecutive *unhealthy* outcomes open it. Only what
  the caller marks unhealthy counts (5xx, timeouts, connection errors); 4xx, ``insufficient_quota``
  and 429 rate limits do not (a 429 is flow control, handled by pacing).
- open: calls fail fast with ``BreakerOpen(retry_after)`` until ``reset_timeout_s`` has passed.
- half_open: the first caller becomes the probe; everyone else fails fast while it is in flight.
  Probe success closes the breaker, probe failure re-opens it, a neutral probe outcome (4xx,
  cancelled, shed before it was sent) frees the probe slot for the next caller.

Each admitted call holds a ``Ticket``; outcomes from an earlier state (a call admitted while closed
that finishes after the breaker opened) are ignored, so only the probe decides a half-open breaker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["BreakerConfig", "BreakerOpen", "CircuitBreaker", "Outcome", "Ticket", "Transition"]

State = Literal["closed", "open", "half_open"]
Outcome = Literal["success", "failure", "neutral"]


class BreakerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_threshold: int = Field(5, ge=1)
    # how long an open breaker fails fast before one probe: every second of it is a second of
    # 503s after the dependency is back, and a probe is one request, so probe often (was 5 s:
    # after a 15 s provider outage the app kept shedding for up to 5 s more)
    reset_timeout_s: float = Field(2.0, gt=0)


class BreakerOpen(ReferenceAppError):
    def __init__(self, name: str, state: State, retry_after: float) -> None:
        super().__init__(f"circuit breaker {name!r} is {state}")
        self.state = state
        self.retry_after = retry_after


@dataclass(frozen=True)
class Ticket:
    generation: int
    probe: bool


@dataclass(frozen=True)
class Transition:
    dependency: str
    from_state: State
    to_state: State
    at: float  # wall clock, epoch seconds (reports chart these against the run's timeline)
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        history: int = 1000,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._wall = wall
        self._state: State = "closed"
        self._generation = 0
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        self.transitions: deque[Transition] = deque(maxlen=history)
        self._listeners: list[Callable[[Transition], None]] = []

    @property
    def state(self) -> State:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def add_listener(self, listener: Callable[[Transition], None]) -> None:
        self._listeners.append(listener)

    def admit(self) -> Ticket:
        """A ticket to call the dependency, or ``BreakerOpen`` to fail fast."""
        if self._state == "open":
            wait = self._opened_at + self.config.reset_timeout_s - self._clock()
            if wait > 0:
                raise BreakerOpen(self.name, "open", wait)
            self._move("half_open", "reset timeout elapsed")
        if self._state == "half_open":
            if self._probe_in_flight:
                raise BreakerOpen(self.name, "half_open", self.config.reset_timeout_s)
            self._probe_in_flight = True
            return Ticket(self._generation, probe=True)
        return Ticket(self._generation, probe=False)

    def record(self, ticket: Ticket, outcome: Outcome) -> None:
        if ticket.generation != self._generation:
            return  # admitted under an earlier state; that state's verdict is already in
        if self._state == "half_open" and ticket.probe:
            self._probe_in_flight = False
            if outcome == "success":
                self._move("closed", "probe succeeded")
            elif outcome == "failure":
                self._move("open", "probe failed")
        elif self._state == "closed":
            if outcome == "success":
                self._failures = 0
            elif outcome == "failure":
                self._failures += 1
                if self._failures >= self.config.failure_threshold:
                    self._move("open", f"{self._failures} consecutive failures")

    def snapshot(self) -> dict[str, object]:
        return {
            "state": self._state,
            "consecutive_failures": self._failures,
            "transitions": [t.as_dict() for t in self.transitions],
        }

    def _move(self, to: State, reason: str) -> None:
        transition = Transition(self.name, self._state, to, self._wall(), reason)
        self._state = to
        self._generation += 1
        self._failures = 0
        self._probe_in_flight = False
        if to == "open":
            self._opened_at = self._clock()
        self.transitions.append(transition)
        for listener in self._listeners:
            listener(transition)
