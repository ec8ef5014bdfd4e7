"""The query path: exact cache -> single-flight -> embed -> semantic cache -> retrieval -> chat.

When this process completes an ingest, the cached answers the change cannot alter are re-keyed
under the tenant's new corpus version (``_carry_forward``, rule in revalidation.py); an answer
that finishes after the version moved is stored under the new version by the same rule
(``_rekeyed``), since under a spike with a document batch most answers finish after the next
ingest did.

Same RAG logic as the naive app (same chunks, prompt, models and tenant filter, hence the same
sources on a healthy system); what differs is everything around the calls: caches, guards,
the request deadline and the fallbacks (ragchaos/reference_app/fallback.py). Only clean answers are
cached: never an error, an empty answer or a degraded one.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from ragchaos.kit.prompt import EMBED_MODEL, PROMPT_VERSION, Passage, build_messages
from ragchaos.kit.schemas import QueryRequest, QueryResponse, Source
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app import fallback
from ragchaos.reference_app.caches import CorpusVersions, LayerCache, filters_key, normalise_question
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.embedder import Embedder
from ragchaos.reference_app.finish_late import FinishLate
from ragchaos.reference_app.generator import Generator
from ragchaos.reference_app.revalidation import Basis, CorpusChange, basis_of, still_exact
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
    top_k: int
    exact_key: tuple[Hashable, ...]
    stale_key: tuple[Hashable, ...]
    retrieval_key: tuple[Hashable, ...]
    semantic_partition: tuple[Hashable, ...]
    cache_s: float = 0.0


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
        self._last_good: LRUCache[Hashable, QueryResponse] = LRUCache(maxsize=10_000)
        # retrieval key -> what its sources depended on, for carrying cached answers across a change
        self.revalidate = revalidate and self._any_cache
        self._clock = clock
        self._bases: LRUCache[tuple[Hashable, ...], Basis] = LRUCache(maxsize=20_000)
        # tenant -> the last changes this process made, by the version they produced
        self._recent: dict[str, deque[tuple[int, CorpusChange]]] = {}
        versions.on_change(lambda tenant: semantic.invalidate_tenant(tenant, keep_version=versions.get(tenant)))
        if self.revalidate:
            versions.on_advance(self._carry_forward)

    @property
    def _any_cache(self) -> bool:
        return self.responses.enabled or self.semantic.enabled

    def _ctx(self, req: QueryRequest, top_k: int, version: int | None = None) -> _Ctx:
        q = normalise_question(req.question)
        fk = filters_key(req.filters)
        version = self.versions.get(req.tenant) if version is None else version
        return _Ctx(
            req=req,
            top_k=top_k,
            exact_key=(req.tenant, version, PROMPT_VERSION, q, top_k, fk),
            stale_key=(req.tenant, PROMPT_VERSION, q, top_k, fk),
            retrieval_key=(req.tenant, version, EMBED_MODEL, q, top_k, fk),
            # hard partition: the similarity search never sees another tenant, corpus or prompt
            semantic_partition=(req.tenant, version, PROMPT_VERSION, EMBED_MODEL, top_k, fk),
        )

    async def _shared_ctx(self, req: QueryRequest, top_k: int) -> _Ctx:
        """The context after reading what replicas share (REDIS_URL: ragchaos/reference_app/shared/):
        the tenant's corpus version, then the response cache entry for this question."""
        await self.versions.refresh(req.tenant)
        ctx = self._ctx(req, top_k)
        await self.responses.prefetch([ctx.exact_key])
        return ctx

    async def answer(self, req: QueryRequest, top_k: int, deadline: Deadline) -> Answer:
        t0 = time.perf_counter()
        try:
            ctx = await self._shared_ctx(req, top_k)
            hit = self._exact(ctx)
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
        ctx = await self._shared_ctx(req, top_k)
        hit = self._exact(ctx)
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

    def _exact(self, ctx: _Ctx) -> Answer | None:
        if not self.responses.enabled:
            return None
        t = time.perf_counter()
        hit = self.responses.get(ctx.exact_key)
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
                await self.semantic.prefetch(ctx.semantic_partition)
                hit = self.semantic.lookup(ctx.semantic_partition, vector, req.question)
                ctx.cache_s += time.perf_counter() - t
                self.metrics.cache_requests.labels(layer="semantic", result="hit" if hit else "miss").inc()
                if hit is not None:
                    self.stages.record_seconds("query.cache", ctx.cache_s)
                    body = hit.value.model_copy(update={"cached": "semantic"})
                    return Answer(body, f"SEMANTIC; sim={hit.similarity:.3f}")
            if self._any_cache:
                self.stages.record_seconds("query.cache", ctx.cache_s)
            hits = self.retrievals.get(ctx.retrieval_key)
            if hits is None:
                hits = await self._guarded(
                    ctx, "vectordb", "query.retrieve",
                    lambda: self.store.search(req.tenant, vector, ctx.top_k, req.filters, deadline),
                )
                current = self._rekeyed(ctx, vector, hits[0])
                if current is not None:
                    self.retrievals.put(current.retrieval_key, hits)
                    if self.revalidate and current.retrieval_key not in self._bases:
                        self._bases[current.retrieval_key] = basis_of(vector, hits[0], ctx.top_k,
                                                                      created=self._clock())
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
        """``ctx`` if the tenant's corpus version has not moved since the query read it; the
        context at the current version if every change since is one this process made and none
        can alter these sources (revalidation.py); None if the answer may be out of date."""
        tenant, version = str(ctx.exact_key[0]), int(str(ctx.exact_key[1]))
        current = self.versions.get(tenant)
        if current == version:
            return ctx
        if not self.revalidate or current < version:
            return None
        known = dict(self._recent.get(tenant, ()))
        changes = [known.get(v) for v in range(version + 1, current + 1)]
        if any(c is None for c in changes):
            return None  # another replica's change, or one too old to remember: only its version is known
        basis = basis_of(vector, sources, ctx.top_k, created=0.0)
        if not all(still_exact([basis], c)[0] for c in changes if c is not None):
            return None
        return self._ctx(ctx.req, ctx.top_k, version=current)


    def _carry_forward(self, change: CorpusChange, old: int, new: int) -> None:
        """Re-key under ``new`` the cached answers of ``change.tenant`` at ``old`` that the change
        cannot alter (revalidation.py); the rest stay under ``old``, never looked up again."""
        tenant = change.tenant
        self._recent.setdefault(tenant, deque(maxlen=64)).append((new, change))
        mine = [k for k in self._bases if k[0] == tenant]
        current = [k for k in mine if k[1] == old]
        verdicts = still_exact([self._bases[k] for k in current], change)
        kept = dropped = 0
        for key, ok in zip(current, verdicts, strict=True):
            basis = self._bases[key]
            moved = False
            if ok and self._clock() - basis.created < self._max_age_s:
                new_key = (tenant, new, *key[2:])
                hits = self.retrievals.peek(key)
                if hits is not None:
                    self.retrievals.put(new_key, hits)
                    moved = True
                answer = self.responses.peek(_exact_key(key))
                if answer is not None:
                    self.responses.put(_exact_key(new_key), answer)
                    moved = True
                if moved:
                    self._bases[new_key] = basis
            kept += moved
            dropped += not moved
        for key in mine:  # what the old versions keyed is unreachable now: free it, not at TTL
            self._bases.pop(key, None)
            self.retrievals.discard(key)
            self.responses.discard(_exact_key(key))
        self.metrics.cache_carried.labels(layer="response", result="kept").inc(kept)
        self.metrics.cache_carried.labels(layer="response", result="dropped").inc(dropped)

        def keep(vectors: Any, answers: list[Any], partition: tuple[Hashable, ...]) -> list[bool]:
            top_k = partition[4]  # (tenant, version, prompt version, model, top_k, filters)
            assert isinstance(top_k, int)
            bases = [basis_of(v, a.sources, top_k, created=0.0) for v, a in zip(vectors, answers, strict=True)]
            return still_exact(bases, change)

        s_kept, s_dropped = self.semantic.carry_forward(tenant, old, new, keep)
        self.metrics.cache_carried.labels(layer="semantic", result="kept").inc(s_kept)
        self.metrics.cache_carried.labels(layer="semantic", result="dropped").inc(s_dropped)

    @property
    def _max_age_s(self) -> float:
        """A carried answer keeps its age: past the response TTL it is not carried."""
        return self.responses.ttl_s or float("inf")


def _exact_key(retrieval_key: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    """(tenant, version, EMBED_MODEL, q, top_k, filters) -> the response cache's key."""
    tenant, version, _model, q, top_k, fk = retrieval_key
    return (tenant, version, PROMPT_VERSION, q, top_k, fk)


class _Served(Exception):
    """A fallback answer found while a dependency failed; unwinds to ``_prepare``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
