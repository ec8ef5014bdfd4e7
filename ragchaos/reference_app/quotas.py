"""Per-tenant quotas on the app's own API, so one noisy tenant cannot starve the others.

Each tenant has a token bucket: ``rate_per_s`` requests per second sustained, bursts of up to
``burst``. A request costs 1 by default (the app may charge more, e.g. per ingested chunk). Over
quota, ``QuotaExceeded`` carries the seconds until the request would fit: the app answers 429 with
that Retry-After. The bucket state sits behind ``QuotaStore`` (one async ``take``), so a
Redis-backed store can replace the in-memory one when replicas must share limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict, Field

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["MemoryQuotaStore", "QuotaConfig", "QuotaExceeded", "QuotaStore", "TenantLimit", "TenantQuotas"]


class TenantLimit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_per_s: float = Field(gt=0)
    burst: float = Field(gt=0)


class QuotaConfig(BaseModel):
    """Defaults for every tenant; ``overrides`` sets limits for named tenants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_per_s: float = Field(50.0, gt=0)
    burst: float = Field(100.0, gt=0)
    overrides: Mapping[str, TenantLimit] = Field(default_factory=dict)

    def limit_for(self, tenant: str) -> TenantLimit:
        return self.overrides.get(tenant) or TenantLimit(rate_per_s=self.rate_per_s, burst=self.burst)


class QuotaExceeded(ReferenceAppError):
    def __init__(self, tenant: str, retry_after: float) -> None:
        super().__init__(f"tenant {tenant!r} is over its quota; retry in {retry_after:.2f}s")
        self.tenant = tenant
        self.retry_after = retry_after


class QuotaStore(Protocol):
    async def take(self, key: str, cost: float, limit: TenantLimit) -> float:
        """Take ``cost`` from ``key``'s bucket and return 0, or take nothing and return the
        seconds until ``cost`` would be available. Must be atomic per key."""
        ...


class MemoryQuotaStore:
    """In-process buckets. A bucket idle long enough to be full again is forgotten (TTL), so the
    table holds only recently active tenants; ``max_tenants`` bounds it under a flood of names."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, max_tenants: int = 100_000, ttl_s: float = 600.0
    ) -> None:
        self._clock = clock
        self._buckets: TTLCache[str, tuple[float, float]] = TTLCache(
            maxsize=max_tenants, ttl=ttl_s, timer=clock
        )

    async def take(self, key: str, cost: float, limit: TenantLimit) -> float:
        now = self._clock()
        level, at = self._buckets.get(key, (limit.burst, now))
        level = min(limit.burst, level + max(0.0, now - at) * limit.rate_per_s)
        cost = min(cost, limit.burst)  # a cost above the burst could never be paid
        if level >= cost:
            self._buckets[key] = (level - cost, now)
            return 0.0
        self._buckets[key] = (level, now)
        return (cost - level) / limit.rate_per_s


class TenantQuotas:
    """``await quotas.acquire(tenant, cost)``; ``enabled=False`` is a pass-through."""

    def __init__(
        self,
        config: QuotaConfig,
        metrics: AppMetrics | None = None,
        *,
        store: QuotaStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        enabled: bool = True,
    ) -> None:
        self.config = config
        self.enabled = enabled
        self._metrics = metrics
        self._store = store if store is not None else MemoryQuotaStore(clock=clock)

    async def acquire(self, tenant: str, cost: float = 1.0) -> None:
        if not self.enabled:
            return
        wait = await self._store.take(tenant, cost, self.config.limit_for(tenant))
        if wait > 0:
            if self._metrics is not None:
                self._metrics.quota_rejections.labels(tenant=tenant).inc()
            raise QuotaExceeded(tenant, wait)
