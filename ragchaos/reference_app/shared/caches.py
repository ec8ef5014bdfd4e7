"""Response and embedding caches, and tenant corpus versions, shared across replicas in Redis.

Each layer is two-level: the replica's own bounded ``LayerCache`` (L1) in front of Redis (L2).
Composed, not inherited: ``LayerCache`` and ``CorpusVersions`` (caches.py) hold the stores of
this module (``RedisCacheStore``, ``RedisVersionStore``: the protocols are in stores.py). A
lookup copies what Redis has for its keys into L1 (one MGET) and reads L1; ``put`` writes L1 at
once and Redis behind it (a task: a lost write only costs another replica a miss, never a
wrong answer).

Invalidation across replicas: the tenant's corpus version lives in Redis (``INCR`` when an
ingest completes) and is part of the response and retrieval keys. ``refresh(tenant)`` reads it
at the start of every query, so a replica that did not do the ingest stops serving the old
answers as soon as the counter moves; the old keys simply expire (TTL). Old L1 entries are
never looked up again because their version is no longer current. The replica that did the
ingest re-keys the answers the change cannot alter (ragchaos/reference_app/revalidation.py) and writes
them under the new version, so the fleet keeps them; the others only see the version move.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

import redis.exceptions

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.shared.namespace import Namespace, digest

__all__ = ["Codec", "RedisCacheStore", "RedisVersionStore", "WriteBehind", "redis_corpus_versions", "redis_layer_cache"]

log = logging.getLogger("ragchaos.shared")
V = TypeVar("V")

Codec = tuple[Callable[[V], bytes], Callable[[bytes], V]]  # encode, decode


class WriteBehind:
    """Fire-and-forget Redis writes from synchronous code, kept referenced until done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, what: str, coro: Awaitable[object]) -> None:
        async def run() -> None:
            try:
                await coro
            except (redis.exceptions.RedisError, OSError) as exc:
                log.warning("shared %s write failed: %s: %s", what, type(exc).__name__, exc)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


class RedisCacheStore(Generic[V]):
    """``stores.CacheStore`` on Redis: one key per entry (MGET to fetch, SET PX behind)."""

    def __init__(self, layer: str, ns: Namespace, codec: Codec, writes: WriteBehind, *, ttl_s: float | None) -> None:
        self.layer = layer
        self._ns = ns
        self._encode, self._decode = codec
        self._writes = writes
        # Redis needs an expiry on every key (no maxsize there): a layer without a TTL (the
        # embeddings, a pure function of the text) keeps a key a day after its last write
        self._redis_ttl_ms = int((ttl_s or 86_400.0) * 1000)

    def key(self, key: Hashable) -> str:
        return self._ns.key("cache", self.layer, digest(key))

    async def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, V]:
        try:
            raws = await self._ns.client.mget([self.key(k) for k in keys])
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("shared %s cache read failed (a miss): %s: %s", self.layer, type(exc).__name__, exc)
            return {}
        found: dict[Hashable, V] = {}
        for key, raw in zip(keys, raws, strict=True):
            if raw is not None:
                try:
                    found[key] = self._decode(raw)
                except Exception as exc:  # a value written by another version of the app
                    log.warning("undecodable shared %s cache value skipped: %s", self.layer, exc)
        return found

    def write(self, key: Hashable, value: V) -> None:
        self._writes.submit(self.layer, self._ns.client.set(self.key(key), self._encode(value), px=self._redis_ttl_ms))


def redis_layer_cache(
    layer: str,
    metrics: AppMetrics | None,
    ns: Namespace,
    codec: Codec,
    writes: WriteBehind,
    *,
    maxsize: int,
    ttl_s: float | None,
    enabled: bool = True,
) -> LayerCache[Any]:
    """A cache layer of this replica (L1) with Redis behind it (L2)."""
    return LayerCache(layer, metrics, maxsize=maxsize, ttl_s=ttl_s, enabled=enabled,
                      store=RedisCacheStore(layer, ns, codec, writes, ttl_s=ttl_s))


class RedisVersionStore:
    """``stores.VersionStore`` on Redis: the tenant's corpus version is Redis's counter."""

    def __init__(self, ns: Namespace) -> None:
        self._ns = ns

    def _rkey(self, tenant: str) -> str:
        return self._ns.key("version", tenant)

    async def read(self, tenant: str) -> int | None:
        try:
            raw = await self._ns.client.get(self._rkey(tenant))
        except (redis.exceptions.RedisError, OSError) as exc:
            # Redis down: keep the last version read (a query must not fail on its cache); the
            # shared cache entries are unreachable then anyway, only L1 can answer
            log.warning("corpus version of %r unreadable: %s: %s", tenant, type(exc).__name__, exc)
            return None
        return int(raw) if raw is not None else 0

    async def increment(self, tenant: str, known: int) -> int:
        return int(await self._ns.client.incr(self._rkey(tenant)))


def redis_corpus_versions(ns: Namespace) -> CorpusVersions:
    """Tenant corpus versions whose truth is in Redis; the local dict is the last value read."""
    return CorpusVersions(RedisVersionStore(ns))
