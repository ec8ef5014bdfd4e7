"""Response and embedding caches, and tenant corpus versions, shared across replicas in Redis.

Each layer is two-level: the replica's own bounded ``LayerCache`` (L1) in front of Redis (L2).
The query path stays synchronous on L1: before it looks, ``prefetch(keys)`` copies what Redis
has for those keys into L1 (one MGET); ``put`` writes L1 at once and Redis behind it (a task:
a lost write only costs another replica a miss, never a wrong answer).

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
from typing import Generic, TypeVar

import redis.exceptions

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.revalidation import CorpusChange
from ragchaos.reference_app.shared.namespace import Namespace, digest

__all__ = ["Codec", "RedisCorpusVersions", "RedisLayerCache", "WriteBehind"]

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


class RedisLayerCache(LayerCache[V], Generic[V]):
    def __init__(
        self,
        layer: str,
        metrics: AppMetrics | None,
        ns: Namespace,
        codec: Codec,
        writes: WriteBehind,
        *,
        maxsize: int,
        ttl_s: float | None,
        enabled: bool = True,
    ) -> None:
        super().__init__(layer, metrics, maxsize=maxsize, ttl_s=ttl_s, enabled=enabled)
        self._ns = ns
        self._encode, self._decode = codec
        self._writes = writes
        # Redis needs an expiry on every key (no maxsize there): a layer without a TTL (the
        # embeddings, a pure function of the text) keeps a key a day after its last write
        self._redis_ttl_ms = int((ttl_s or 86_400.0) * 1000)

    def _rkey(self, key: Hashable) -> str:
        return self._ns.key("cache", self.layer, digest(key))

    async def prefetch(self, keys: Sequence[Hashable]) -> None:
        if not self.enabled:
            return
        wanted = [k for k in keys if k not in self._data]
        if not wanted:
            return
        try:
            raws = await self._ns.client.mget([self._rkey(k) for k in wanted])
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("shared %s cache read failed (a miss): %s: %s", self.layer, type(exc).__name__, exc)
            return
        for key, raw in zip(wanted, raws, strict=True):
            if raw is not None:
                try:
                    self._data[key] = self._decode(raw)
                except Exception as exc:  # a value written by another version of the app
                    log.warning("undecodable shared %s cache value skipped: %s", self.layer, exc)

    def put(self, key: Hashable, value: V) -> None:
        if not self.enabled:
            return
        super().put(key, value)
        self._writes.submit(self.layer, self._ns.client.set(self._rkey(key), self._encode(value),
                                                            px=self._redis_ttl_ms))


class RedisCorpusVersions(CorpusVersions):
    """The tenant's corpus version is Redis's counter; the local dict is the last value read."""

    def __init__(self, ns: Namespace) -> None:
        super().__init__()
        self._ns = ns

    def _rkey(self, tenant: str) -> str:
        return self._ns.key("version", tenant)

    async def refresh(self, tenant: str) -> int:
        try:
            raw = await self._ns.client.get(self._rkey(tenant))
        except (redis.exceptions.RedisError, OSError) as exc:
            # Redis down: keep the last version read (a query must not fail on its cache); the
            # shared cache entries are unreachable then anyway, only L1 can answer
            log.warning("corpus version of %r unreadable: %s: %s", tenant, type(exc).__name__, exc)
            return self.get(tenant)
        version = int(raw) if raw is not None else 0
        if version != self._versions.get(tenant, 0):
            # another replica's change: only the version is known here, so nothing is carried
            self._moved(tenant, self.get(tenant), version, None)
        return version

    async def advance(self, tenant: str, change: CorpusChange | None = None) -> int:
        old = self.get(tenant)
        version = int(await self._ns.client.incr(self._rkey(tenant)))
        # carried only when no other replica moved the version in between (new == old + 1)
        self._moved(tenant, old, version, change)
        return version
