"""One guard per dependency, composing the mechanisms, and the settings that size them.

``DependencyGuard.call(op, deadline=..., tokens=...)`` applies, in order, the guards in its list
(guards.py: deadline -> breaker -> bulkhead) then per attempt (pacing -> ``op(timeout)``) with
retries. Each part is its own module; a part switched off (``RAGCHAOS_DISABLE``) is simply not
in the list.

Errors the caller sees: ``DependencyUnavailable`` when the guard fails fast or gives up (the app
serves a fallback or a 503 with Retry-After); any non-retryable error unchanged (e.g.
``openai.BadRequestError``, ``insufficient_quota``). With retries off a retryable error also
propagates unchanged after its single attempt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ragchaos.measure.metrics import BREAKER_STATE_VALUE, AppMetrics
from ragchaos.reference_app.admission import AdmissionConfig, AdmissionControl
from ragchaos.reference_app.breaker import BreakerConfig, CircuitBreaker, Transition
from ragchaos.reference_app.breaker_store import BreakerStateStore
from ragchaos.reference_app.bulkhead import Bulkhead, BulkheadConfig
from ragchaos.reference_app.deadline import Deadline, DeadlineConfig
from ragchaos.reference_app.guards import (
    AdmissionGuard,
    BreakerGuard,
    BulkheadGuard,
    Call,
    CallGuard,
    DeadlineGuard,
    QuotaGuard,
    RequestGuard,
    RequestGuards,
)
from ragchaos.reference_app.pacing import Pacer, PaceTimeout, PacingConfig
from ragchaos.reference_app.quotas import QuotaConfig, QuotaStore, TenantQuotas
from ragchaos.reference_app.retries import FailedFast, Failure, GaveUp, Retrier, RetryConfig, classify

__all__ = [
    "DEPENDENCIES",
    "SWITCHES",
    "DependencyGuard",
    "DependencyUnavailable",
    "ResilienceSettings",
    "breaker_stats",
    "build_admission",
    "build_guards",
    "build_quotas",
    "build_request_guards",
    "request_deadline",
]

T = TypeVar("T")
DEPENDENCIES = ("embeddings", "chat", "vectordb")
SWITCHES = frozenset({"retries", "breaker", "bulkhead", "deadline", "pacing", "quotas", "admission"})
PACED = ("embeddings", "chat")  # the provider's dependencies; Chroma has no published limits


class ResilienceSettings(BaseSettings):
    """Read from ``RAGCHAOS_<PART>__<FIELD>`` (e.g. ``RAGCHAOS_RETRY__MAX_ATTEMPTS=3``); a bad value
    stops the app at start with a message naming the field. Seconds unless named otherwise.

    ========================================  =======  ============================================
    variable                                  default  meaning
    ========================================  =======  ============================================
    RAGCHAOS_RETRY__MAX_ATTEMPTS              4        attempts per call, the first included
    RAGCHAOS_RETRY__INITIAL_BACKOFF_S         0.2      backoff base of the first retry
    RAGCHAOS_RETRY__MAX_BACKOFF_S             4.0      backoff cap
    RAGCHAOS_RETRY__MAX_RETRY_AFTER_S         30       a longer Retry-After gives up at once
    RAGCHAOS_RETRY__HINT_JITTER               0.1      up to this share added to a Retry-After
    RAGCHAOS_BREAKER__FAILURE_THRESHOLD       5        consecutive unhealthy calls that open it
    RAGCHAOS_BREAKER__RESET_TIMEOUT_S         2.0      open -> half-open (one probe) after this
    RAGCHAOS_BULKHEAD__EMBEDDINGS             8        embeddings calls in flight at most
    RAGCHAOS_BULKHEAD__CHAT                   16       chat calls in flight at most
    RAGCHAOS_BULKHEAD__VECTORDB               16       vector store calls in flight at most
    RAGCHAOS_BULKHEAD__MAX_WAIT_S             0.05     wait for a slot, then shed
    RAGCHAOS_BULKHEAD__RETRY_AFTER_S          1.0      Retry-After hint when shed
    RAGCHAOS_DEADLINE__REQUEST_S              10.0     a query's whole budget
    RAGCHAOS_DEADLINE__EMBEDDINGS_ATTEMPT_S   5.0      per-attempt timeout (capped by the budget)
    RAGCHAOS_DEADLINE__CHAT_ATTEMPT_S         8.0      per-attempt timeout
    RAGCHAOS_DEADLINE__VECTORDB_ATTEMPT_S     2.0      per-attempt timeout
    RAGCHAOS_DEADLINE__MIN_ATTEMPT_S          0.05     less budget than this: fail fast, send nothing
    RAGCHAOS_PACING__EMBEDDINGS_RPM           500      first guess of the provider's limits; the
    RAGCHAOS_PACING__EMBEDDINGS_TPM           1000000  x-ratelimit-limit-* headers replace them
    RAGCHAOS_PACING__CHAT_RPM                 500
    RAGCHAOS_PACING__CHAT_TPM                 200000
    RAGCHAOS_PACING__HEADROOM                 0.9      share of the provider's limit we aim for
    RAGCHAOS_PACING__DEFAULT_PAUSE_S          1.0      pause after a 429 without Retry-After
    RAGCHAOS_PACING__BURST_S                  60       the provider's burst window (see pacing.py)
    RAGCHAOS_QUOTA__RATE_PER_S                50       requests per second per tenant, sustained
    RAGCHAOS_QUOTA__BURST                     100      bucket size (requests)
    RAGCHAOS_QUOTA__OVERRIDES                 {}       JSON {"tenant": {"rate_per_s", "burst"}}
    RAGCHAOS_ADMISSION__MAX_IN_FLIGHT         64       requests in the app at once
    RAGCHAOS_ADMISSION__MAX_WAIT_S            0.1      wait for a slot, then 503
    RAGCHAOS_ADMISSION__RETRY_AFTER_S         1.0      Retry-After of that 503
    ========================================  =======  ============================================
    """

    model_config = SettingsConfigDict(
        env_prefix="RAGCHAOS_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    retry: RetryConfig = Field(default_factory=RetryConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    bulkhead: BulkheadConfig = Field(default_factory=BulkheadConfig)
    deadline: DeadlineConfig = Field(default_factory=DeadlineConfig)
    pacing: PacingConfig = Field(default_factory=PacingConfig)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    admission: AdmissionConfig = Field(default_factory=AdmissionConfig)


class DependencyUnavailable(FailedFast):
    """Fail fast: breaker open, bulkhead full, deadline too short, pacing past the deadline, or
    retries given up. ``retry_after`` (seconds) is a hint for the 503's Retry-After, if known."""

    def __init__(self, dependency: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason
        self.retry_after = retry_after


class DependencyGuard:
    """The guards around one dependency's calls, in order (guards.py: deadline, breaker,
    bulkhead; absent when switched off), then per attempt pacing and the retries."""

    def __init__(
        self,
        name: str,
        *,
        metrics: AppMetrics,
        attempt_timeout_s: float,
        min_attempt_s: float = 0.05,
        guards: Sequence[CallGuard] = (),
        retrier: Retrier | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.name = name
        self.metrics = metrics
        self.attempt_timeout_s = attempt_timeout_s
        self.min_attempt_s = min_attempt_s
        self.guards = list(guards)
        self.retrier = retrier
        self.pacer = pacer

    @property
    def breaker(self) -> CircuitBreaker | None:
        return next((g.breaker for g in self.guards if isinstance(g, BreakerGuard)), None)

    @property
    def bulkhead(self) -> Bulkhead | None:
        return next((g.bulkhead for g in self.guards if isinstance(g, BulkheadGuard)), None)

    @property
    def state(self) -> str:
        breaker = self.breaker
        return breaker.state if breaker is not None else "closed"

    def observe(self, headers: Mapping[str, str]) -> None:
        """Feed a provider response's ``x-ratelimit-*`` headers to pacing."""
        if self.pacer is not None:
            self.pacer.observe(headers)

    async def call(self, op: Callable[[float], Awaitable[T]], *, deadline: Deadline, tokens: int = 0) -> T:
        """Run ``op(timeout_s)`` (one attempt with that timeout) inside every guard in the list,
        then per attempt: pacing (``tokens``) -> op, retried. Raises ``DependencyUnavailable``
        when failing fast or giving up; re-raises non-retryable errors unchanged."""
        call = Call(requested=deadline, shed=self._shed, min_attempt_s=self.min_attempt_s)
        async with AsyncExitStack() as stack:
            for guard in self.guards:
                await stack.enter_async_context(guard.around(call))
            try:
                return await self._attempts(op, call.deadline, tokens, probe=call.probe)
            except GaveUp as exc:
                call.outcome = "failure" if exc.failure is not None and exc.failure.unhealthy else "neutral"
                if exc.reason in ("pacing", "deadline") and exc.failure is None:
                    raise self._shed(exc.reason, exc.reason, exc.retry_after) from None
                raise DependencyUnavailable(self.name, exc.reason, exc.retry_after) from exc.__cause__

    async def _attempts(
        self, op: Callable[[float], Awaitable[T]], deadline: Deadline, tokens: int, probe: bool
    ) -> T:
        async def attempt() -> T:
            if deadline.remaining() < self.min_attempt_s:
                raise GaveUp("deadline", None)
            if self.pacer is not None:
                try:
                    await self.pacer.acquire(tokens, deadline)
                except PaceTimeout as exc:
                    raise GaveUp("pacing", None, exc.wait) from None
            timeout = deadline.cap(self.attempt_timeout_s)
            try:
                async with asyncio.timeout(timeout):  # backstop: never a hang, whatever op does
                    return await op(timeout)
            except Exception as exc:
                failure = classify(exc)
                if self.pacer is not None and failure.reason == "rate_limited":
                    response = getattr(exc, "response", None)
                    if response is not None:
                        self.pacer.observe(response.headers)
                    self.pacer.pause(failure.retry_after)
                if failure.reason == "timeout" and timeout < self.attempt_timeout_s:
                    # cut short by our own deadline, not a sign the dependency is sick
                    raise GaveUp("deadline", dataclasses.replace(failure, unhealthy=False)) from exc
                raise

        if self.retrier is None:
            return await attempt()
        return await self.retrier.call(attempt, deadline, max_attempts=1 if probe else None)

    def _shed(
        self, metric_reason: str, reason: str, retry_after: float | None = None
    ) -> DependencyUnavailable:
        self.metrics.shed.labels(reason=metric_reason).inc()
        return DependencyUnavailable(self.name, reason, retry_after)


def build_guards(
    settings: ResilienceSettings,
    metrics: AppMetrics,
    disabled: set[str] | frozenset[str],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    wall: Callable[[], float] = time.time,
    pacer_factory: Callable[..., Pacer] | None = None,
    breaker_stores: Callable[[str], BreakerStateStore] | None = None,
) -> dict[str, DependencyGuard]:
    """The three guards (``embeddings``, ``chat``, ``vectordb``), sized by ``settings``.
    ``pacer_factory(dependency, rpm, tpm, **kw)`` replaces the local Pacer (shared pacing);
    ``breaker_stores(dependency)`` gives each breaker a fleet state store (fleet scope)."""
    make_pacer = pacer_factory or (lambda _dependency, *args, **kw: Pacer(*args, **kw))
    guards: dict[str, DependencyGuard] = {}
    for name in DEPENDENCIES:
        retrier = None
        if "retries" not in disabled:

            def count_retry(failure: Failure, delay: float, name: str = name) -> None:
                metrics.retries.labels(dependency=name, reason=failure.reason).inc()

            retrier = Retrier(
                settings.retry,
                sleep=sleep,
                rng=rng,
                on_retry=count_retry,
                min_attempt_s=settings.deadline.min_attempt_s,
            )
        # the guards around each call, in order; a switched-off one is not in the list
        call_guards: list[CallGuard] = []
        if "deadline" not in disabled:
            call_guards.append(DeadlineGuard())
        if "breaker" not in disabled:
            breaker = CircuitBreaker(name, settings.breaker, clock=clock, wall=wall,
                                     shared=breaker_stores(name) if breaker_stores is not None else None)
            breaker.add_listener(_breaker_metrics(metrics))
            metrics.breaker_state.labels(dependency=name).set(BREAKER_STATE_VALUE["closed"])
            call_guards.append(BreakerGuard(breaker))
        if "bulkhead" not in disabled:
            b = settings.bulkhead
            bulkhead = Bulkhead(name, b.limit(name), max_wait_s=b.max_wait_s, retry_after_s=b.retry_after_s)
            call_guards.append(BulkheadGuard(bulkhead, name))
        pacer = None
        if "pacing" not in disabled and name in PACED:
            p = settings.pacing
            pacer = make_pacer(
                name,
                getattr(p, f"{name}_rpm"),
                getattr(p, f"{name}_tpm"),
                headroom=p.headroom,
                default_pause_s=p.default_pause_s,
                burst_s=p.burst_s,
                clock=clock,
                sleep=sleep,
            )
        guards[name] = DependencyGuard(
            name,
            metrics=metrics,
            attempt_timeout_s=settings.deadline.attempt_timeout(name),
            min_attempt_s=settings.deadline.min_attempt_s,
            guards=call_guards,
            retrier=retrier,
            pacer=pacer,
        )
    return guards


def _breaker_metrics(metrics: AppMetrics) -> Callable[[Transition], None]:
    def listener(t: Transition) -> None:
        metrics.breaker_state.labels(dependency=t.dependency).set(BREAKER_STATE_VALUE[t.to_state])
        metrics.breaker_transitions.labels(dependency=t.dependency, to=t.to_state).inc()

    return listener


def breaker_stats(guards: Mapping[str, DependencyGuard]) -> dict[str, object]:
    """The body of ``GET /_stats/breakers``: each breaker's state and its transitions (``at`` in
    epoch seconds, oldest first; a switched-off breaker reports ``disabled``), plus each bulkhead's
    occupancy and each pacer's counters, so a scenario can check "in flight <= cap"."""
    return {
        "breakers": {
            name: breaker.snapshot()
            if (breaker := guard.breaker) is not None
            else {"state": "disabled", "consecutive_failures": 0, "transitions": []}
            for name, guard in guards.items()
        },
        "bulkheads": {
            name: {"limit": bulkhead.limit, "in_flight": bulkhead.in_flight, "peak": bulkhead.peak}
            for name, g in guards.items()
            if (bulkhead := g.bulkhead) is not None
        },
        "pacing": {
            name: {
                "pauses": g.pacer.pauses,
                "waited_s": round(g.pacer.waited_s, 6),
                "limit_rpm": round(g.pacer.requests.limit, 3),
                "limit_tpm": round(g.pacer.tokens.limit, 3) if g.pacer.tokens is not None else None,
            }
            for name, g in guards.items()
            if g.pacer is not None
        },
    }


def request_deadline(
    settings: ResilienceSettings,
    disabled: set[str] | frozenset[str],
    clock: Callable[[], float] = time.monotonic,
) -> Deadline:
    """A new request's deadline (``deadline.request_s`` from now, or none if switched off)."""
    if "deadline" in disabled:
        return Deadline.unbounded(clock)
    return Deadline.after(settings.deadline.request_s, clock)


def build_quotas(
    settings: ResilienceSettings,
    metrics: AppMetrics,
    disabled: set[str] | frozenset[str],
    *,
    store: QuotaStore | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TenantQuotas:
    return TenantQuotas(settings.quota, metrics, store=store, clock=clock, enabled="quotas" not in disabled)


def build_admission(
    settings: ResilienceSettings, metrics: AppMetrics, disabled: set[str] | frozenset[str]
) -> AdmissionControl:
    return AdmissionControl(settings.admission, metrics, enabled="admission" not in disabled)


def build_request_guards(
    settings: ResilienceSettings,
    metrics: AppMetrics,
    disabled: set[str] | frozenset[str],
    *,
    quota_store: QuotaStore | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RequestGuards:
    """The guards around every API request, in order: the tenant's quota, then admission; a
    switched-off one is not in the list."""
    guards: list[RequestGuard] = []
    if "quotas" not in disabled:
        guards.append(QuotaGuard(build_quotas(settings, metrics, disabled, store=quota_store, clock=clock)))
    if "admission" not in disabled:
        guards.append(AdmissionGuard(build_admission(settings, metrics, disabled)))
    return RequestGuards(guards)
