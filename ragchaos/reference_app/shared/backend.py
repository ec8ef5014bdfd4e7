"""Where the reference app keeps fleet-wide state: in-process (default) or in Redis (``REDIS_URL``).

``select_backend(settings, metrics)`` returns a strategy object that builds each store; app.py
asks it instead of constructing the in-process parts itself. ``LocalBackend`` builds exactly
what the app always had (SQLite queue, cachetools caches, memory buckets); ``RedisBackend`` the
shared ones of this package. Nothing else in the app knows which it got.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ragchaos.kit.schemas import QueryResponse
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.breaker_store import BreakerStateStore
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.ingest import Indexer
from ragchaos.reference_app.ingest_errors import Backoff
from ragchaos.reference_app.ingest_local import LocalJobQueue
from ragchaos.reference_app.ingest_queue import IngestQueue
from ragchaos.reference_app.ingest_store import JobQueue
from ragchaos.reference_app.pacing import Pacer
from ragchaos.reference_app.quotas import QuotaStore
from ragchaos.reference_app.semantic_cache import SemanticCache
from ragchaos.reference_app.settings import ReferenceSettings
from ragchaos.reference_app.shared.breaker import redis_breaker_stores
from ragchaos.reference_app.shared.caches import WriteBehind, redis_corpus_versions, redis_layer_cache
from ragchaos.reference_app.shared.namespace import Namespace, connect
from ragchaos.reference_app.shared.pacing import redis_pacer
from ragchaos.reference_app.shared.quotas import RedisQuotaStore
from ragchaos.reference_app.shared.semantic_cache import redis_semantic_cache
from ragchaos.reference_app.shared.stream_queue import StreamJobQueue

__all__ = ["Backend", "LocalBackend", "RedisBackend", "select_backend"]

PacerFactory = Callable[..., Pacer]  # (dependency, rpm, tpm, **Pacer kwargs) -> Pacer
BreakerStores = Callable[[str], BreakerStateStore]  # dependency -> its breaker's fleet state

CODECS: dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {
    "response": (lambda v: v.model_dump_json().encode(), QueryResponse.model_validate_json),
    "embedding": (lambda v: np.asarray(v, dtype="<f4").tobytes(),
                  lambda b: np.frombuffer(b, dtype="<f4").astype(np.float32)),
}


def worker_loop(settings: ReferenceSettings, metrics: AppMetrics, jobs: JobQueue, indexer: Indexer,
                stages: StageRecorder) -> IngestQueue:
    """The one worker loop, over either backend's job store."""
    s = settings
    return IngestQueue(
        jobs, indexer, stages, metrics=metrics, workers=s.ingest_workers,
        claim=s.ingest_claim_jobs, job_deadline_s=s.ingest_deadline_s, poll_s=s.ingest_poll_s,
        backoff=Backoff(s.ingest_backoff_s, s.ingest_max_backoff_s),
    )


class Backend(Protocol):
    """What app.py asks for each kind of state; ``LocalBackend`` or ``RedisBackend``."""

    name: str

    def versions(self) -> CorpusVersions: ...

    def cache(self, layer: str, *, maxsize: int, ttl_s: float | None, enabled: bool) -> LayerCache[Any]: ...

    def semantic(self, *, enabled: bool) -> SemanticCache: ...

    def quota_store(self) -> QuotaStore | None: ...

    def pacer_factory(self) -> PacerFactory | None: ...

    def breaker_stores(self) -> BreakerStores | None: ...

    def job_queue(self) -> JobQueue: ...

    def ingest_queue(self, indexer: Indexer, stages: StageRecorder) -> IngestQueue: ...

    async def close(self) -> None: ...


class LocalBackend:
    name = "local"

    def __init__(self, settings: ReferenceSettings, metrics: AppMetrics) -> None:
        self.settings = settings
        self.metrics = metrics

    def versions(self) -> CorpusVersions:
        return CorpusVersions()

    def cache(self, layer: str, *, maxsize: int, ttl_s: float | None, enabled: bool) -> LayerCache[Any]:
        return LayerCache(layer, self.metrics, maxsize=maxsize, ttl_s=ttl_s, enabled=enabled)

    def semantic(self, *, enabled: bool) -> SemanticCache:
        s = self.settings
        return SemanticCache(s.semantic_threshold, ttl_s=s.semantic_ttl_s, max_entries=s.semantic_max_entries,
                             enabled=enabled)

    def quota_store(self) -> QuotaStore | None:
        return None  # TenantQuotas' default: MemoryQuotaStore

    def pacer_factory(self) -> PacerFactory | None:
        return None  # build_guards' default: a local Pacer

    def breaker_stores(self) -> BreakerStores | None:
        return None  # build_guards' default: each breaker's state in this replica

    def job_queue(self) -> JobQueue:
        return LocalJobQueue(self.settings.data_dir / "ingest-queue.sqlite3", max_attempts=self.settings.ingest_max_attempts)

    def ingest_queue(self, indexer: Indexer, stages: StageRecorder) -> IngestQueue:
        return worker_loop(self.settings, self.metrics, self.job_queue(), indexer, stages)

    async def close(self) -> None:
        return None


class RedisBackend:
    """The shared stores of this package; what stays per replica comes from a ``LocalBackend``."""

    name = "redis"

    def __init__(self, settings: ReferenceSettings, metrics: AppMetrics, url: str) -> None:
        self.settings = settings
        self.metrics = metrics
        self.local = LocalBackend(settings, metrics)
        prefix = settings.redis_prefix or f"ragchaos:{settings.collection_prefix or settings.app_name}:"
        self.ns: Namespace = connect(url, prefix)
        self.writes = WriteBehind()

    def versions(self) -> CorpusVersions:
        return redis_corpus_versions(self.ns)

    def cache(self, layer: str, *, maxsize: int, ttl_s: float | None, enabled: bool) -> LayerCache[Any]:
        if layer not in CODECS:  # the retrieval cache stays local: its key holds the shared version
            return self.local.cache(layer, maxsize=maxsize, ttl_s=ttl_s, enabled=enabled)
        return redis_layer_cache(layer, self.metrics, self.ns, CODECS[layer], self.writes, maxsize=maxsize,
                                 ttl_s=ttl_s, enabled=enabled)

    def semantic(self, *, enabled: bool) -> SemanticCache:
        s = self.settings
        return redis_semantic_cache(self.ns, self.writes, lambda v: v.model_dump(mode="json"),
                                    QueryResponse.model_validate, s.semantic_threshold, ttl_s=s.semantic_ttl_s,
                                    max_entries=s.semantic_max_entries, enabled=enabled)

    def quota_store(self) -> QuotaStore | None:
        return RedisQuotaStore(self.ns)

    def pacer_factory(self) -> PacerFactory | None:
        def make(dependency: str, rpm: float, tpm: float | None, **kwargs: Any) -> Pacer:
            return redis_pacer(self.ns, dependency, self.writes, rpm, tpm, **kwargs)

        return make

    def breaker_stores(self) -> BreakerStores | None:
        # per replica unless asked (docs/scale-out.md, "Why the circuit breaker stays per replica")
        return redis_breaker_stores(self.ns) if self.settings.breaker_scope == "fleet" else None

    def job_queue(self) -> JobQueue:
        s = self.settings
        return StreamJobQueue(self.ns, max_attempts=s.ingest_max_attempts, claim_idle_s=s.ingest_claim_idle_s)

    def ingest_queue(self, indexer: Indexer, stages: StageRecorder) -> IngestQueue:
        return worker_loop(self.settings, self.metrics, self.job_queue(), indexer, stages)

    async def close(self) -> None:
        await self.writes.drain()
        await self.ns.client.aclose()


def select_backend(settings: ReferenceSettings, metrics: AppMetrics) -> Backend:
    if settings.redis_url:
        return RedisBackend(settings, metrics, settings.redis_url)
    return LocalBackend(settings, metrics)
