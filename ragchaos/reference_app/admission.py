"""Admission control: a global cap on requests in flight, shedding fast with ``Overloaded``.

The bulkheads protect each dependency; this protects the app itself. Past ``max_in_flight``
requests a newcomer waits at most ``max_wait_s`` for a slot and is then refused with 503 and
Retry-After, so a spike costs the excess callers a fast refusal instead of costing everyone a
timeout. Built on the same limiter as the bulkheads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.bulkhead import Bulkhead, BulkheadFull
from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["AdmissionConfig", "AdmissionControl", "Overloaded"]


class AdmissionConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_in_flight: int = Field(64, ge=1)
    max_wait_s: float = Field(0.1, ge=0)
    retry_after_s: float = Field(1.0, ge=0)


class Overloaded(ReferenceAppError):
    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(f"overloaded: {reason}")
        self.reason = reason
        self.retry_after = retry_after


class AdmissionControl:
    """``async with admission.slot():`` around a request; ``enabled=False`` is a pass-through."""

    def __init__(
        self, config: AdmissionConfig, metrics: AppMetrics | None = None, *, enabled: bool = True
    ) -> None:
        self.config = config
        self.enabled = enabled
        self._metrics = metrics
        self._limiter = Bulkhead(
            "admission",
            config.max_in_flight,
            max_wait_s=config.max_wait_s,
            retry_after_s=config.retry_after_s,
        )

    @property
    def in_flight(self) -> int:
        return self._limiter.in_flight

    def slot(self) -> AbstractAsyncContextManager[None]:
        return self._slot()

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        if not self.enabled:
            yield
            return
        try:
            await self._limiter.acquire()
        except BulkheadFull:
            if self._metrics is not None:
                self._metrics.shed.labels(reason="admission").inc()
            raise Overloaded("admission", self.config.retry_after_s) from None
        try:
            yield
        finally:
            self._limiter.release()
