"""The exact-match cache layers: response, retrieval and embedding, plus corpus versions.

* response: (tenant, corpus version, prompt version, normalised question, top_k, filters) ->
  the whole answer. ``X-Cache: HIT``.
* retrieval: the same key without the prompt -> the sources and passages, so a changed prompt
  or a failed generation does not repeat the vector search.
* embedding: (model, text) -> vector. Embeddings are a pure function of the text, so this one
  needs no tenant and no invalidation; it is what makes a re-ingest or a repeated question cheap.

Invalidation: every tenant has a corpus version, bumped when an ingest for that tenant
completes. It is part of the response and retrieval keys, so an answer computed before the
corpus changed can never be served after it, unless the change provably cannot alter it: the
replica that did the ingest re-keys those answers under the new version (revalidation.py). Only clean answers are stored (the query service
never stores an error, an empty or a degraded answer). Sizes and TTLs are bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

from cachetools import Cache, LRUCache, TTLCache

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.cachekey import filters_key, normalise_question
from ragchaos.reference_app.revalidation import CorpusChange
from ragchaos.reference_app.stores import CacheStore, LocalVersionStore, NoCacheStore, VersionStore

__all__ = ["CorpusVersions", "LayerCache", "filters_key", "normalise_question"]

V = TypeVar("V")


Carrier = Callable[[CorpusChange, int, int], None]  # (change, old version, new version)


class CorpusVersions:
    """tenant -> version, bumped when the tenant's corpus changes.

    ``on_change`` listeners hear every new version (and drop what the old one keyed);
    ``on_advance`` carriers hear, first, the changes this process made itself, one version at a
    time, with what changed, so they can re-key what the change cannot alter.
    """

    def __init__(self, store: VersionStore | None = None) -> None:
        self._store: VersionStore = store if store is not None else LocalVersionStore()
        self._versions: dict[str, int] = {}
        self._listeners: list[Callable[[str], object]] = []
        self._carriers: list[Carrier] = []

    def get(self, tenant: str) -> int:
        return self._versions.get(tenant, 0)

    def bump(self, tenant: str, change: CorpusChange | None = None) -> int:
        old = self.get(tenant)
        self._moved(tenant, old, old + 1, change)
        return old + 1

    def on_change(self, listener: Callable[[str], object]) -> None:
        self._listeners.append(listener)

    def on_advance(self, carrier: Carrier) -> None:
        self._carriers.append(carrier)

    def _moved(self, tenant: str, old: int, new: int, change: CorpusChange | None) -> None:
        # carriers first: they copy entries of ``old`` to ``new`` before listeners drop ``old``
        if change is not None and new == old + 1:
            for carrier in self._carriers:
                carrier(change, old, new)
        self._versions[tenant] = new
        for listener in self._listeners:
            listener(tenant)

    async def refresh(self, tenant: str) -> int:
        """The current version, read from the store (in process: already current)."""
        version = await self._store.read(tenant)
        if version is None:
            return self.get(tenant)
        if version != self._versions.get(tenant, 0):
            # another replica's change: only the version is known here, so nothing is carried
            self._moved(tenant, self.get(tenant), version, None)
        return version

    async def advance(self, tenant: str, change: CorpusChange | None = None) -> int:
        """Advance the version where it lives (stores.py) and tell the listeners."""
        old = self.get(tenant)
        version = await self._store.increment(tenant, old)
        # carried only when no other replica moved the version in between (new == old + 1)
        self._moved(tenant, old, version, change)
        return version


class LayerCache(Generic[V]):
    """One cache layer: bounded, optionally with a TTL, counting hits and misses by layer.

    Used from the event loop only (cachetools is not coroutine-aware and needs no lock there).
    ``enabled=False`` makes it a pass-through that neither stores nor counts.
    """

    def __init__(
        self,
        layer: str,
        metrics: AppMetrics | None,
        *,
        maxsize: int,
        ttl_s: float | None,
        enabled: bool = True,
        clock: Callable[[], float] = time.monotonic,
        store: CacheStore[V] | None = None,
    ) -> None:
        self.layer = layer
        self.store: CacheStore[V] = store if store is not None else NoCacheStore()
        self.enabled = enabled
        self.ttl_s = ttl_s
        self._metrics = metrics
        self._data: Cache[Hashable, V] = (
            TTLCache(maxsize=maxsize, ttl=ttl_s, timer=clock) if ttl_s else LRUCache(maxsize=maxsize)
        )

    def get(self, key: Hashable) -> V | None:
        if not self.enabled:
            return None
        value = self._data.get(key)
        if self._metrics is not None:
            self._metrics.cache_requests.labels(layer=self.layer, result="hit" if value is not None else "miss").inc()
        return value

    def put(self, key: Hashable, value: V) -> None:
        if self.enabled:
            self._data[key] = value
            self.store.write(key, value)

    def peek(self, key: Hashable) -> V | None:
        """This process's entry for ``key``, without counting a lookup (for re-keying)."""
        return self._data.get(key) if self.enabled else None

    def discard(self, key: Hashable) -> None:
        """Drop this process's entry for ``key`` (one no lookup can reach any more); a shared
        store's copy expires by its TTL."""
        self._data.pop(key, None)

    async def prefetch(self, keys: Sequence[Hashable]) -> None:
        """Bring what the store has for ``keys`` into this replica's entries (one round trip)."""
        if not self.enabled:
            return
        wanted = [k for k in keys if k not in self._data]
        if wanted:
            self._data.update(await self.store.fetch(wanted))

    async def lookup(self, key: Hashable) -> V | None:
        """``get`` after asking the store: what the query path calls."""
        await self.prefetch([key])
        return self.get(key)

    async def lookup_many(self, keys: Sequence[Hashable]) -> list[V | None]:
        await self.prefetch(keys)
        return [self.get(k) for k in keys]

    def __len__(self) -> int:
        return len(self._data)
