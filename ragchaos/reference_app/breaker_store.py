"""Where a circuit breaker's state lives: this replica's memory (default) or Redis (a fleet).

The state is five values: ``state`` (closed / open / half_open), the consecutive ``failures``
while closed, ``opened_at``, the ``generation`` (bumped by every transition, so an outcome of a
call admitted under an earlier state is ignored) and the half-open ``probe`` slot. A store
answers two questions, each atomically: may a call go now (``admit``), and what does this
outcome change (``record``); both return a ``Decision``, with the moves they made, so the
breaker (breaker.py) can tell its listeners.

``LocalBreakerState`` is the one every replica has: plain fields, no await point inside, so on
one event loop each question is answered atomically for free. ``RedisBreakerState``
(shared/breaker.py) answers the same questions with one Lua script each, for a fleet that
chose ``RAGCHAOS_BREAKER_SCOPE=fleet`` (docs/scale-out.md says when, and what it costs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["BreakerStateStore", "Decision", "LocalBreakerState", "Move", "Outcome", "State", "Ticket"]

State = Literal["closed", "open", "half_open"]
Outcome = Literal["success", "failure", "neutral"]
Move = tuple[State, State, str]  # from, to, reason


@dataclass(frozen=True)
class Ticket:
    generation: int
    probe: bool
    shared: bool = False  # issued by a fleet store (its outcome goes back there)
    quiet: bool = False  # admitted closed with no failures counted: a success changes nothing


@dataclass(frozen=True)
class Decision:
    """A store's answer: the state after the question, and the moves the question made."""

    state: State
    failures: int
    moves: tuple[Move, ...] = ()
    ticket: Ticket | None = None  # admit: the call may go; None: refused (or a record)
    retry_after: float = 0.0  # admit refused: seconds until it is worth asking again


class BreakerStateStore(Protocol):
    """The state of one breaker (one dependency); ``now`` is in the store's own time base
    (monotonic seconds in process, epoch seconds on a fleet store: replicas share it)."""

    async def admit(self, failure_threshold: int, reset_timeout_s: float, now: float) -> Decision: ...

    async def record(self, ticket: Ticket, outcome: Outcome, failure_threshold: int, now: float) -> Decision: ...


class LocalBreakerState:
    """One replica's breaker state in memory: the breaker's behaviour since it was written."""

    def __init__(self) -> None:
        self.state: State = "closed"
        self.generation = 0
        self.failures = 0
        self.opened_at = 0.0
        self.probe_in_flight = False

    def admit_now(self, reset_timeout_s: float, now: float) -> Decision:
        moves: list[Move] = []
        if self.state == "open":
            wait = self.opened_at + reset_timeout_s - now
            if wait > 0:
                return Decision("open", self.failures, retry_after=wait)
            moves.append(self._move("half_open", "reset timeout elapsed", now))
        if self.state == "half_open":
            if self.probe_in_flight:
                return Decision("half_open", self.failures, tuple(moves), retry_after=reset_timeout_s)
            self.probe_in_flight = True
            return Decision(self.state, self.failures, tuple(moves), Ticket(self.generation, probe=True))
        return Decision(self.state, self.failures, tuple(moves), Ticket(self.generation, probe=False))

    def record_now(self, ticket: Ticket, outcome: Outcome, failure_threshold: int, now: float) -> Decision:
        moves: list[Move] = []
        if ticket.generation != self.generation:
            pass  # admitted under an earlier state; that state's verdict is already in
        elif self.state == "half_open" and ticket.probe:
            self.probe_in_flight = False
            if outcome == "success":
                moves.append(self._move("closed", "probe succeeded", now))
            elif outcome == "failure":
                moves.append(self._move("open", "probe failed", now))
        elif self.state == "closed":
            if outcome == "success":
                self.failures = 0
            elif outcome == "failure":
                self.failures += 1
                if self.failures >= failure_threshold:
                    moves.append(self._move("open", f"{self.failures} consecutive failures", now))
        return Decision(self.state, self.failures, tuple(moves))

    async def admit(self, failure_threshold: int, reset_timeout_s: float, now: float) -> Decision:
        return self.admit_now(reset_timeout_s, now)

    async def record(self, ticket: Ticket, outcome: Outcome, failure_threshold: int, now: float) -> Decision:
        return self.record_now(ticket, outcome, failure_threshold, now)

    def _move(self, to: State, reason: str, now: float) -> Move:
        move: Move = (self.state, to, reason)
        self.state = to
        self.generation += 1
        self.failures = 0
        self.probe_in_flight = False
        if to == "open":
            self.opened_at = now
        return move
