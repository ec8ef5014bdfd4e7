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

Where the state lives is a strategy (breaker_store.py): this replica's memory by default, or a
fleet store shared by every replica (``RAGCHAOS_BREAKER_SCOPE=fleet``: shared/breaker.py). The
fleet store is asked through ``acquire``/``settle``; when it cannot answer (Redis down or slow)
the breaker decides with its own in-process state for ``fallback_s`` and tries again after:
a fleet breaker fails open to per-replica behaviour and never blocks a call on Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.reference_app.breaker_store import (
    BreakerStateStore,
    Decision,
    LocalBreakerState,
    Outcome,
    State,
    Ticket,
)
from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["BreakerConfig", "BreakerOpen", "CircuitBreaker", "Outcome", "Ticket", "Transition"]

log = logging.getLogger("ragchaos.reference")


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
class Transition:
    dependency: str
    from_state: State
    to_state: State
    at: float  # wall clock, epoch seconds (reports chart these against the run's timeline)
    reason: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# what a fleet store may raise when it cannot answer (redis-py's errors derive from these or
# from RedisError, which the shared store turns into ConnectionError)
STORE_DOWN = (ConnectionError, OSError, TimeoutError)


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        history: int = 1000,
        shared: BreakerStateStore | None = None,
        shared_timeout_s: float = 0.25,
        fallback_s: float = 1.0,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._wall = wall
        self._local = LocalBreakerState()
        self._shared = shared
        self._shared_timeout_s = shared_timeout_s
        self._fallback_s = fallback_s
        self._local_until = float("-inf")  # deciding locally until then (the fleet store failed)
        self.fallbacks = 0  # times the fleet store could not answer
        self._seen: State = "closed"
        self._seen_failures = 0
        self.transitions: deque[Transition] = deque(maxlen=history)
        self._listeners: list[Callable[[Transition], None]] = []

    @property
    def scope(self) -> str:
        return "replica" if self._shared is None else "fleet"

    @property
    def state(self) -> State:
        """The state as this replica last saw it (in fleet scope: at its last admit or record)."""
        return self._seen

    @property
    def consecutive_failures(self) -> int:
        return self._seen_failures

    def add_listener(self, listener: Callable[[Transition], None]) -> None:
        self._listeners.append(listener)

    # -- this replica's state: synchronous, no await point -------------------------------------

    def admit(self) -> Ticket:
        """A ticket to call the dependency, or ``BreakerOpen`` to fail fast (in-process state)."""
        return self._ticket(self._local.admit_now(self.config.reset_timeout_s, self._clock()))

    def record(self, ticket: Ticket, outcome: Outcome) -> None:
        self._apply(self._local.record_now(ticket, outcome, self.config.failure_threshold, self._clock()))

    # -- what the guard calls: the fleet store when there is one, else the above ---------------

    async def acquire(self) -> Ticket:
        """``admit`` through the fleet store if any; this replica's own state if it cannot answer."""
        if self._shared is None or self._clock() < self._local_until:
            return self.admit()
        try:
            async with asyncio.timeout(self._shared_timeout_s):
                decision = await self._shared.admit(
                    self.config.failure_threshold, self.config.reset_timeout_s, self._wall())
        except STORE_DOWN as exc:
            self._store_down(exc)
            return self.admit()
        return self._ticket(decision)

    async def settle(self, ticket: Ticket, outcome: Outcome) -> None:
        """``record`` the outcome where the ticket came from."""
        if not ticket.shared or self._shared is None:
            self.record(ticket, outcome)
            return
        if (outcome == "success" and ticket.quiet) or (outcome == "neutral" and not ticket.probe):
            return  # changes nothing in the store (closed with no failures counted, or neutral): no round trip
        try:
            async with asyncio.timeout(self._shared_timeout_s):
                decision = await self._shared.record(ticket, outcome, self.config.failure_threshold, self._wall())
        except STORE_DOWN as exc:
            self._store_down(exc)  # this outcome is lost to the fleet; the next ones count locally
            return
        self._apply(decision)

    def snapshot(self) -> dict[str, object]:
        snap: dict[str, object] = {
            "state": self._seen,
            "consecutive_failures": self._seen_failures,
            "transitions": [t.as_dict() for t in self.transitions],
        }
        if self._shared is not None:
            snap |= {"scope": "fleet", "store_fallbacks": self.fallbacks}
        return snap

    def _ticket(self, decision: Decision) -> Ticket:
        self._apply(decision)
        if decision.ticket is None:
            raise BreakerOpen(self.name, decision.state, decision.retry_after)
        return decision.ticket

    def _store_down(self, exc: BaseException) -> None:
        self.fallbacks += 1
        self._local_until = self._clock() + self._fallback_s
        log.warning("breaker %s: fleet state unavailable (%s: %s); deciding locally for %.1f s",
                    self.name, type(exc).__name__, exc, self._fallback_s)

    def _apply(self, decision: Decision) -> None:
        """Tell the listeners of each move, and of a move another replica made (fleet scope)."""
        moves = list(decision.moves)
        before = moves[0][0] if moves else decision.state
        if before != self._seen:
            moves.insert(0, (self._seen, before, "moved by another replica"))
        if moves and moves[-1][1] != decision.state:
            moves.append((moves[-1][1], decision.state, "moved by another replica"))
        self._seen = decision.state
        self._seen_failures = decision.failures
        for from_state, to_state, reason in moves:
            transition = Transition(self.name, from_state, to_state, self._wall(), reason)
            self.transitions.append(transition)
            for listener in self._listeners:
                listener(transition)
