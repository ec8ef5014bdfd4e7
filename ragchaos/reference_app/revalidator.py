"""Who carries cached answers across a corpus change: the query path's side of revalidation.py.

``Revalidator`` remembers what each cached retrieval depended on (a ``Basis``) and the last
changes this process made; when this process advances a tenant's corpus version it re-keys the
cached answers the change cannot alter (``carry_forward``), and it tells the query path under
which version an answer that finished after the version moved may still be stored
(``version_for``). ``NoRevalidation`` (switch ``cache_revalidation`` off, or no answer cache on)
carries nothing: an answer is stored only under the version its query read.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from cachetools import LRUCache

from ragchaos.kit.schemas import QueryResponse, Source
from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.cachekey import CacheKey, QueryKey
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.revalidation import Basis, CorpusChange, basis_of, still_exact
from ragchaos.reference_app.semantic_cache import SemanticCache

__all__ = ["NoRevalidation", "Revalidation", "Revalidator"]

Hits = tuple[list[Source], list[Any]]


class Revalidation(Protocol):
    def remember(self, key: CacheKey, vector: Any, sources: list[Source]) -> None:
        """A retrieval was cached under ``key``: keep what its sources depended on."""
        ...

    def version_for(self, key: QueryKey, version: int, vector: Any, sources: list[Source]) -> int | None:
        """The corpus version an answer read at ``version`` may be cached under now, or None
        when it may be out of date."""
        ...


class NoRevalidation:
    def __init__(self, versions: CorpusVersions) -> None:
        self._versions = versions

    def remember(self, key: CacheKey, vector: Any, sources: list[Source]) -> None:
        return None

    def version_for(self, key: QueryKey, version: int, vector: Any, sources: list[Source]) -> int | None:
        return version if self._versions.get(key.tenant) == version else None


class Revalidator:
    def __init__(
        self,
        *,
        responses: LayerCache[QueryResponse],
        retrievals: LayerCache[Hits],
        semantic: SemanticCache,
        versions: CorpusVersions,
        metrics: AppMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.responses = responses
        self.retrievals = retrievals
        self.semantic = semantic
        self.versions = versions
        self.metrics = metrics
        self._clock = clock
        # retrieval key -> what its sources depended on, for carrying cached answers across a change
        self._bases: LRUCache[CacheKey, Basis] = LRUCache(maxsize=20_000)
        # tenant -> the last changes this process made, by the version they produced
        self._recent: dict[str, deque[tuple[int, CorpusChange]]] = {}
        versions.on_advance(self.carry_forward)

    def remember(self, key: CacheKey, vector: Any, sources: list[Source]) -> None:
        if key not in self._bases:
            self._bases[key] = basis_of(vector, sources, key.top_k, created=self._clock())

    def version_for(self, key: QueryKey, version: int, vector: Any, sources: list[Source]) -> int | None:
        """``version`` if the tenant's corpus version has not moved since the query read it; the
        current version if every change since is one this process made and none can alter these
        sources (revalidation.py); None if the answer may be out of date."""
        current = self.versions.get(key.tenant)
        if current == version:
            return version
        if current < version:
            return None
        known = dict(self._recent.get(key.tenant, ()))
        changes = [known.get(v) for v in range(version + 1, current + 1)]
        if any(c is None for c in changes):
            return None  # another replica's change, or one too old to remember: only its version is known
        basis = basis_of(vector, sources, key.top_k, created=0.0)
        if not all(still_exact([basis], c)[0] for c in changes if c is not None):
            return None
        return current

    def carry_forward(self, change: CorpusChange, old: int, new: int) -> None:
        """Re-key under ``new`` the cached answers of ``change.tenant`` at ``old`` that the change
        cannot alter (revalidation.py); the rest stay under ``old``, never looked up again."""
        tenant = change.tenant
        self._recent.setdefault(tenant, deque(maxlen=64)).append((new, change))
        mine = [k for k in self._bases if k.tenant == tenant]
        current = [k for k in mine if k.version == old]
        verdicts = still_exact([self._bases[k] for k in current], change)
        kept = dropped = 0
        for key, ok in zip(current, verdicts, strict=True):
            moved = ok and self._clock() - self._bases[key].created < self._max_age_s and self._move(key, new)
            kept += moved
            dropped += not moved
        for key in mine:  # what the old versions keyed is unreachable now: free it, not at TTL
            self._bases.pop(key, None)
            self.retrievals.discard(key)
            self.responses.discard(key.response())
        self.metrics.cache_carried.labels(layer="response", result="kept").inc(kept)
        self.metrics.cache_carried.labels(layer="response", result="dropped").inc(dropped)

        def keep(vectors: Any, answers: list[Any], partition: Sequence[Any]) -> list[bool]:
            top_k = partition[4]  # a Partition: (tenant, version, prompt version, model, top_k, filters)
            assert isinstance(top_k, int)
            bases = [basis_of(v, a.sources, top_k, created=0.0) for v, a in zip(vectors, answers, strict=True)]
            return still_exact(bases, change)

        s_kept, s_dropped = self.semantic.carry_forward(tenant, old, new, keep)
        self.metrics.cache_carried.labels(layer="semantic", result="kept").inc(s_kept)
        self.metrics.cache_carried.labels(layer="semantic", result="dropped").inc(s_dropped)

    def _move(self, key: CacheKey, new: int) -> bool:
        """Copy this process's retrieval and answer of ``key`` to version ``new``; False if
        neither is still cached."""
        moved = False
        hits = self.retrievals.peek(key)
        if hits is not None:
            self.retrievals.put(key.at(new), hits)
            moved = True
        answer = self.responses.peek(key.response())
        if answer is not None:
            self.responses.put(key.at(new).response(), answer)
            moved = True
        if moved:
            self._bases[key.at(new)] = self._bases[key]
        return moved

    @property
    def _max_age_s(self) -> float:
        """A carried answer keeps its age: past the response TTL it is not carried."""
        return self.responses.ttl_s or float("inf")
