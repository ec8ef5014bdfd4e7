"""The query path: exact cache -> single-flight -> embed -> semantic cache -> retrieval -> chat.

When this process completes an ingest, the cached answers the change cannot alter are re-keyed
under the tenant's new corpus version (``Revalidator.carry_forward``, rule in revalidation.py); an
answer that finishes after the version moved is stored under the new version by the same rule
(``Revalidator.version_for``), since under a spike with a document batch most answers finish
after the next ingest did. The keys are named in cachekey.py.

Same RAG logic as the naive app (same chunks, prompt, models and tenant filter, hence the same
sources on a healthy system); what differs is everything around the calls: caches, guards,
the request deadline and the fallbacks (ragchaos/reference_app/fallback.py). Only clean answers are
cached: never an error, an empty answer or a degraded one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from ragchaos.kit.prompt import Passage, build_messages
from ragchaos.kit.schemas import QueryRequest, QueryResponse, Source
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app import fallback
from ragchaos.reference_app.cachekey import CacheKey, Partition, QueryKey
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.embedder import Embedder
from ragchaos.reference_app.errors import ReferenceAppError
from ragchaos.reference_app.finish_late import FinishLate
from ragchaos.reference_app.generator import Generator
from ragchaos.reference_app.revalidator import NoRevalidation, Revalidation, Revalidator
from ragchaos.reference_app.semantic_cache import SemanticCache
from ragchaos.reference_app.singleflight import SingleFlight
from ragchaos.reference_app.vectorstore import VectorStore

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["Answer", "Prepared", "QueryService"]

Hits = tuple[list[Source], list[Passage]]


@dataclass(frozen=True)
class Answer:
    body: QueryResponse
    x_cache: str  # HIT | SEMANTIC; sim=0.973 | MISS | BYPASS


@dataclass
class _Ctx:
    req: QueryRequest
    key: QueryKey
    version: int  # the tenant's corpus version the query read
    cache_s: float = 0.0

    @property
    def top_k(self) -> int:
        return self.key.top_k

    @property
    def exact_key(self) -> CacheKey:
        return self.key.response(self.version)

    @property
    def retrieval_key(self) -> CacheKey:
        return self.key.retrieval(self.version)

    @property
    def semantic_partition(self) -> Partition:
        # hard partition: the similarity search never sees another tenant, corpus or prompt
        return self.key.partition(self.version)

    @property
    def stale_key(self) -> tuple[str, str, str, int, str]:
        return self.key.stale()


@dataclass
class Prepared:
    ctx: _Ctx
    vector: Any
    sources: list[Source]
    passages: list[Passage]
    messages: list[ChatCompletionMessageParam]


class QueryService:
    def __init__(
        self,
        *,
        embedder: Embedder,
        store: VectorStore,
        generator: Generator,
        responses: LayerCache[QueryResponse],
        retrievals: LayerCache[Hits],
        semantic: SemanticCache,
        versions: CorpusVersions,
        metrics: AppMetrics,
        stages: StageRecorder,
        revalidate: bool = True,
        late: FinishLate | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.generator = generator
        self.responses = responses
        self.retrievals = retrievals
        self.semantic = semantic
        self.versions = versions
        self.metrics = metrics
        self.stages = stages
        self.flight: SingleFlight[Answer] = SingleFlight()
        self.late = late or FinishLate(0.0, enabled=False)
        # last good answer per question, across corpus versions: only ever served as a fallback
        self._last_good: LRUCache[tuple[str, str, str, int, str], QueryResponse] = LRUCache(maxsize=10_000)
        versions.on_change(lambda tenant: semantic.invalidate_tenant(tenant, keep_version=versions.get(tenant)))
        self.revalidation: Revalidation = (
            Revalidator(responses=responses, retrievals=retrievals, semantic=semantic, versions=versions,
                        metrics=metrics, clock=clock)
            if revalidate and self._any_cache
            else NoRevalidation(versions)
        )

    @property
    def _any_cache(self) -> bool:
        return self.responses.enabled or self.semantic.enabled

    def _ctx(self, req: QueryRequest, top_k: int) -> _Ctx:
        key = QueryKey.of(req.tenant, req.question, top_k, req.filters)
        return _Ctx(req=req, key=key, version=self.versions.get(req.tenant))

    async def _current_ctx(self, req: QueryRequest, top_k: int) -> _Ctx:
        """The context at the tenant's current corpus version (read where it lives: stores.py)."""
        await self.versions.refresh(req.tenant)
        return self._ctx(req, top_k)

    async def answer(self, req: QueryRequest, top_k: int, deadline: Deadline) -> Answer:
        t0 = time.perf_counter()
        try:
            ctx = await self._current_ctx(req, top_k)
            hit = await self._exact(ctx)
            if hit is not None:
                return hit
            if self.responses.enabled:  # concurrent identical misses: one upstream call
                return await self.flight.do(ctx.exact_key, lambda: self._miss(ctx, deadline))
            return await self._miss(ctx, deadline)
        finally:
            self.stages.record_seconds("query.total", time.perf_counter() - t0)

    async def stream(
        self, req: QueryRequest, top_k: int, deadline: Deadline
    ) -> Answer | tuple[Prepared, AsyncIterator[str]]:
        """A finished Answer (cache hit, fallback), or the prepared query and its chat deltas."""
        ctx = await self._current_ctx(req, top_k)
        hit = await self._exact(ctx)
        if hit is not None:
            return hit
        prep = await self._prepare(ctx, deadline)
        if isinstance(prep, Answer):
            return prep
        try:
            return prep, await self.generator.stream(prep.messages, deadline)
        except Exception as exc:
            return self._chat_failed(prep, exc)

    def finish_stream(self, prep: Prepared, text: str) -> Answer:
        return self._store(prep, text)

    async def _exact(self, ctx: _Ctx) -> Answer | None:
        if not self.responses.enabled:
            return None
        t = time.perf_counter()
        hit = await self.responses.lookup(ctx.exact_key)
        ctx.cache_s += time.perf_counter() - t
        if hit is None:
            return None
        self.stages.record_seconds("query.cache", ctx.cache_s)
        return Answer(hit.model_copy(update={"cached": "response"}), "HIT")

    async def _miss(self, ctx: _Ctx, deadline: Deadline) -> Answer:
        prep = await self._prepare(ctx, deadline)
        if isinstance(prep, Answer):
            return prep
        try:
            with self.stages.time("query.generate"):
                # past the deadline the caller gets the fallback; the call finishes and is cached
                text = await self.late.run(lambda d: self.generator.complete(prep.messages, d), deadline,
                                           lambda late_text: self._store(prep, late_text))
        except Exception as exc:
            return self._chat_failed(prep, exc)
        return self._store(prep, text)

    async def _guarded(self, ctx: _Ctx, dependency: str, stage: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run a dependency call; a failure the fallbacks absorb becomes a stale answer or a 503."""
        try:
            with self.stages.time(stage):
                return await call()
        except Exception as exc:
            unavailable = fallback.as_unavailable(exc, dependency)
            if unavailable is None:
                raise
            stale = self._last_good.get(ctx.stale_key) if self.responses.enabled else None
            if stale is not None:
                raise _Served(Answer(fallback.stale_answer(stale, unavailable, self.metrics), "STALE")) from None
            raise fallback.unavailable(unavailable, self.metrics) from exc

    async def _prepare(self, ctx: _Ctx, deadline: Deadline) -> Prepared | Answer:
        req = ctx.req
        try:
            (vector,) = await self._guarded(
                ctx, "embeddings", "query.embed", lambda: self.embedder.embed([req.question], deadline)
            )
            if self.semantic.enabled:
                t = time.perf_counter()
                hit = await self.semantic.search(ctx.semantic_partition, vector, req.question)
                ctx.cache_s += time.perf_counter() - t
                self.metrics.cache_requests.labels(layer="semantic", result="hit" if hit else "miss").inc()
                if hit is not None:
                    self.stages.record_seconds("query.cache", ctx.cache_s)
                    body = hit.value.model_copy(update={"cached": "semantic"})
                    return Answer(body, f"SEMANTIC; sim={hit.similarity:.3f}")
            if self._any_cache:
                self.stages.record_seconds("query.cache", ctx.cache_s)
            hits = await self.retrievals.lookup(ctx.retrieval_key)
            if hits is None:
                hits = await self._guarded(
                    ctx, "vectordb", "query.retrieve",
                    lambda: self.store.search(req.tenant, vector, ctx.top_k, req.filters, deadline),
                )
                current = self._rekeyed(ctx, vector, hits[0])
                if current is not None:
                    self.retrievals.put(current.retrieval_key, hits)
                    self.revalidation.remember(current.retrieval_key, vector, hits[0])
        except _Served as served:
            return served.answer
        sources, passages = hits
        return Prepared(ctx, vector, sources, passages, build_messages(req.question, passages))

    def _chat_failed(self, prep: Prepared, exc: Exception) -> Answer:
        unavailable = fallback.as_unavailable(exc, "chat")
        if unavailable is None:
            raise exc
        stale = self._last_good.get(prep.ctx.stale_key) if self.responses.enabled else None
        if stale is not None:
            return Answer(fallback.stale_answer(stale, unavailable, self.metrics), "STALE")
        body = fallback.retrieval_only(prep.sources, prep.passages, unavailable, self.metrics)
        return Answer(body, "MISS" if self._any_cache else "BYPASS")

    def _store(self, prep: Prepared, text: str) -> Answer:
        body = QueryResponse(answer=text, sources=prep.sources)
        if text.strip():  # never cache an empty answer
            if self.responses.enabled:
                self._last_good[prep.ctx.stale_key] = body
            current = self._rekeyed(prep.ctx, prep.vector, prep.sources)
            if current is not None:  # else its version is gone: the entry could never be found
                self.responses.put(current.exact_key, body)
                self.semantic.store(current.semantic_partition, prep.vector, prep.ctx.req.question, body)
        return Answer(body, "MISS" if self._any_cache else "BYPASS")

    def _rekeyed(self, ctx: _Ctx, vector: Any, sources: list[Source]) -> _Ctx | None:
        """``ctx`` at the version its answer may be cached under now, or None if it may be out
        of date (the rule: ``Revalidation.version_for``)."""
        version = self.revalidation.version_for(ctx.key, ctx.version, vector, sources)
        if version is None:
            return None
        return ctx if version == ctx.version else _Ctx(ctx.req, ctx.key, version)


class _Served(ReferenceAppError):
    """A fallback answer found while a dependency failed; unwinds to ``_prepare``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
