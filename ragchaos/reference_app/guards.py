"""Guards as objects composed in a list: a guard switched off is simply not in the list.

Two lists, at two levels:

* **around a request** (app.py): ``QuotaGuard`` (per-tenant quota, quotas.py) then
  ``AdmissionGuard`` (requests in flight, admission.py), held for the whole request by
  ``RequestGuards.hold(tenant)``;
* **around a dependency call** (resilience.py's ``DependencyGuard``): ``DeadlineGuard`` (the
  request's deadline applies; too little left fails fast), ``BreakerGuard`` (breaker.py: admits
  or fails fast, and judges the call's outcome) and ``BulkheadGuard`` (bulkhead.py: a slot for
  the call's duration), entered in that order around the retried attempts.

A dependency guard refuses by raising the exception ``Call.shed`` makes (``DependencyUnavailable``,
counted in ``ragchaos_shed_total``); a request guard by its own error (``QuotaExceeded``,
``Overloaded``; the answers are in http_errors.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from ragchaos.reference_app.admission import AdmissionControl
from ragchaos.reference_app.breaker import BreakerOpen, CircuitBreaker, Outcome
from ragchaos.reference_app.bulkhead import Bulkhead, BulkheadFull
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.quotas import TenantQuotas
from ragchaos.reference_app.retries import classify

__all__ = [
    "AdmissionGuard",
    "BreakerGuard",
    "BulkheadGuard",
    "Call",
    "CallGuard",
    "DeadlineGuard",
    "QuotaGuard",
    "RequestGuard",
    "RequestGuards",
]

# (metric reason, reason, retry_after) -> the exception that refuses the call
Shed = Callable[[str, str, "float | None"], Exception]


@dataclass
class Call:
    """One dependency call as the guards around it see it."""

    requested: Deadline  # the caller's deadline; it applies only with a DeadlineGuard
    shed: Shed
    min_attempt_s: float
    deadline: Deadline = field(default_factory=Deadline.unbounded)
    probe: bool = False  # the breaker's half-open probe: one attempt, no retries
    outcome: Outcome | None = None  # set by the attempts when they know better than the exception


class CallGuard(Protocol):
    def around(self, call: Call) -> AbstractAsyncContextManager[None]: ...


class DeadlineGuard:
    """The request's deadline bounds the call; with too little of it left, nothing is sent."""

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        call.deadline = call.requested
        if call.deadline.remaining() < call.min_attempt_s:
            raise call.shed("deadline", "deadline", None)
        yield


class BreakerGuard:
    """Admits the call (or fails fast while open) and records how it went."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self.breaker = breaker

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        try:
            ticket = await self.breaker.acquire()
        except BreakerOpen as exc:
            raise call.shed("breaker_open", "breaker_open", exc.retry_after) from None
        call.probe = ticket.probe
        outcome: Outcome = "neutral"  # cancelled: says nothing about the dependency's health
        try:
            yield
            outcome = "success"
        except Exception as exc:
            outcome = call.outcome or ("failure" if classify(exc).unhealthy else "neutral")
            raise
        finally:
            await self.breaker.settle(ticket, outcome)


class BulkheadGuard:
    """A slot of the dependency's bulkhead for the call's duration, or a fast refusal."""

    def __init__(self, bulkhead: Bulkhead, dependency: str) -> None:
        self.bulkhead = bulkhead
        self.dependency = dependency

    @asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        try:
            await self.bulkhead.acquire()
        except BulkheadFull as exc:
            raise call.shed(f"bulkhead_{self.dependency}", "bulkhead_full", exc.retry_after) from None
        try:
            yield
        finally:
            self.bulkhead.release()


class RequestGuard(Protocol):
    def hold(self, tenant: str) -> AbstractAsyncContextManager[None]: ...


class QuotaGuard:
    """The tenant's quota pays for the request (429 over it)."""

    def __init__(self, quotas: TenantQuotas) -> None:
        self.quotas = quotas

    @asynccontextmanager
    async def hold(self, tenant: str) -> AsyncIterator[None]:
        await self.quotas.acquire(tenant)
        yield


class AdmissionGuard:
    """A place among the requests in flight, for the whole request (503 when full)."""

    def __init__(self, admission: AdmissionControl) -> None:
        self.admission = admission

    def hold(self, tenant: str) -> AbstractAsyncContextManager[None]:
        return self.admission.slot()


class RequestGuards:
    """The request guards in order; ``hold(tenant)`` enters them all, leaves them in reverse."""

    def __init__(self, guards: Sequence[RequestGuard]) -> None:
        self.guards = list(guards)

    @asynccontextmanager
    async def hold(self, tenant: str) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for guard in self.guards:
                await stack.enter_async_context(guard.hold(tenant))
            yield
