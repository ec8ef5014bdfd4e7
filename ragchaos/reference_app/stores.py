"""The kinds of state the reference app's replicas may share, each a protocol with a local and a
Redis implementation, chosen once at startup (shared/backend.py: ``REDIS_URL`` set or not).

| state | protocol | local (one replica) | Redis (a fleet) |
|---|---|---|---|
| a cache layer's second level | ``CacheStore`` (here) | ``NoCacheStore``: the replica's own L1 is all | ``shared/caches.py: RedisCacheStore`` |
| tenant corpus versions | ``VersionStore`` (here) | ``LocalVersionStore``: a counter in memory | ``shared/caches.py: RedisVersionStore`` |
| per-tenant rate limits | ``quotas.QuotaStore`` | ``quotas.MemoryQuotaStore`` | ``shared/quotas.py: RedisQuotaStore`` |
| semantic cache partitions | ``semantic_cache.SemanticStore`` | ``semantic_cache.NoSemanticStore`` | ``shared/semantic_cache.py: RedisSemanticStore`` |
| the provider's pacing budget | ``pacing.PaceStore`` | ``pacing.LocalPaceStore``: the local buckets | ``shared/pacing.py: RedisPaceStore`` |
| a circuit breaker's state | ``breaker_store.BreakerStateStore`` | ``breaker_store.LocalBreakerState``: fields in memory | ``shared/breaker.py: RedisBreakerState`` (only with ``RAGCHAOS_BREAKER_SCOPE=fleet``) |

The parts that use them (``caches.LayerCache``, ``caches.CorpusVersions``, ``quotas.TenantQuotas``,
``semantic_cache.SemanticCache``, ``pacing.Pacer``, ``breaker.CircuitBreaker``) hold one by composition and never ask which it is; a shared store's round trip happens inside
their async lookups, so the query path (query.py) does not know a fleet exists.

The breaker is the one kind that stays local even with ``REDIS_URL``: its state is per replica
by default, on purpose (docs/scale-out.md, "Why the circuit breaker stays per replica"); a fleet
that wants one breaker opts in with ``RAGCHAOS_BREAKER_SCOPE=fleet`` ("When to choose fleet
scope"), and a fleet breaker whose Redis cannot answer decides on its local state.

Not here: the ingest job store has its own
protocol (ingest_store.py: ``JobQueue``; ingest_local.py and shared/stream_queue.py implement it).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, Protocol, TypeVar

__all__ = ["CacheStore", "LocalVersionStore", "NoCacheStore", "VersionStore"]

V = TypeVar("V")


class CacheStore(Protocol[V]):
    """The second level behind a replica's bounded in-process cache layer."""

    async def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, V]:
        """What the store has for ``keys`` (missing keys absent); a store that cannot answer
        returns what it could, never raises: a cache failure is a miss."""
        ...

    def write(self, key: Hashable, value: V) -> None:
        """Store ``value`` behind the caller's back (a lost write only costs a later miss)."""
        ...


class NoCacheStore(Generic[V]):
    """One replica: nothing behind the in-process layer."""

    async def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, V]:
        return {}

    def write(self, key: Hashable, value: V) -> None:
        return None


class VersionStore(Protocol):
    """Where a tenant's corpus version lives."""

    async def read(self, tenant: str) -> int | None:
        """The current version, or None when the caller's last known version is current (in
        process) or the store cannot say (then the last one read stands)."""
        ...

    async def increment(self, tenant: str, known: int) -> int:
        """Advance the version (``known`` is the caller's last known one) and return the new one."""
        ...


class LocalVersionStore:
    """One replica: the version the caller holds is the truth, advanced by one."""

    async def read(self, tenant: str) -> int | None:
        return None

    async def increment(self, tenant: str, known: int) -> int:
        return known + 1
