"""The reference RAG service: the naive app's RAG logic with what production needs around it.

A checklist, one module per mechanism, each with its switch (``RAGCHAOS_DISABLE``) and metrics:

| mechanism | module | switch |
|---|---|---|
| pooled clients, explicit timeouts, SDK retries off | clients.py | pooling |
| micro-batched embeddings | batching.py, embedder.py | batching |
| bulk upserts | vectorstore.py | bulk_upsert |
| durable ingest queue: one worker loop, poison isolated, dead letters (admin API, CLI) | ingest_queue.py, ingest_store.py, ingest_local.py, jobstore.py, ingest_errors.py, ingest_admin.py | queue |
| caches: response, retrieval, embedding, semantic; single-flight | caches.py, semantic_cache.py, singleflight.py | cache, response_cache, retrieval_cache, embedding_cache, semantic_cache |
| cached answers kept across a corpus change that cannot alter them | revalidation.py (query.py carries) | cache_revalidation |
| retries, breaker, bulkhead, deadline, pacing | retries.py, breaker.py, bulkhead.py, deadline.py, pacing.py (resilience.py composes them) | retries, breaker, bulkhead, deadline, pacing |
| a chat call past the deadline finishes in the background and is cached | finish_late.py | finish_late |
| fallbacks | fallback.py | (follows the guards) |
| per-tenant quotas, admission control | quotas.py, admission.py | quotas, admission |
| tenant pre-filter in every vector query | ragchaos/kit/vectors.py | none: a security property |
| the startup heap frozen out of the garbage collector's full passes | gc_freeze.py | gc_freeze |
| with ``REDIS_URL``: caches, queue, quotas, pacing shared by replicas | shared/ (backend.py selects) | none |
"""

from __future__ import annotations

import gc
import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from ragchaos.core.heap import freeze_heap
from ragchaos.kit.base import build_app
from ragchaos.kit.errors import ApiError
from ragchaos.kit.limits import QueryLimits, check_document, check_query
from ragchaos.kit.schemas import (
    DocumentAccepted,
    DocumentIndexed,
    DocumentRequest,
    JobStatus,
    QueryRequest,
    QueryResponse,
)
from ragchaos.kit.streaming import sse_delta, sse_done, sse_error, sse_response
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.ops import instrument_app
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.auth import install_auth
from ragchaos.reference_app.batching import BatchConfig
from ragchaos.reference_app.clients import Clients
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.embedder import Embedder
from ragchaos.reference_app.fallback import as_unavailable, unavailable
from ragchaos.reference_app.finish_late import FinishLate
from ragchaos.reference_app.gc_freeze import FullPassWatch
from ragchaos.reference_app.generator import Generator
from ragchaos.reference_app.http_errors import install_error_mapping
from ragchaos.reference_app.ingest import DocIn, Indexer
from ragchaos.reference_app.ingest_admin import dead_letter_routes
from ragchaos.reference_app.query import Answer, QueryService
from ragchaos.reference_app.resilience import (
    breaker_stats,
    build_guards,
    build_request_guards,
    request_deadline,
)
from ragchaos.reference_app.settings import ReferenceSettings
from ragchaos.reference_app.shared.backend import select_backend
from ragchaos.reference_app.switches import MECHANISMS
from ragchaos.reference_app.vectorstore import VectorStore

__all__ = ["create_app"]

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def create_app(settings: ReferenceSettings) -> FastAPI:
    switches = settings.switches
    disabled = switches.effective_disabled()
    res = settings.resilience
    metrics = AppMetrics(settings.app_name)
    stages = StageRecorder(strict=True)

    backend = select_backend(settings, metrics)  # REDIS_URL: fleet-wide state in Redis (shared/)
    guards = build_guards(res, metrics, disabled, pacer_factory=backend.pacer_factory(),
                          breaker_stores=backend.breaker_stores())
    # around every API request, in order: the tenant's quota, then admission (guards.py)
    request_guards = build_request_guards(res, metrics, disabled, quota_store=backend.quota_store())
    clients = Clients(settings, pooled=switches.on("pooling"))
    versions = backend.versions()
    embedder = Embedder(
        clients, guards["embeddings"], metrics,
        backend.cache("embedding", maxsize=settings.embedding_cache_size, ttl_s=None,
                      enabled=switches.on("embedding_cache")),
        # group commit: no more calls in flight than the embeddings bulkhead admits; the texts
        # that arrive meanwhile leave together when one returns (batching.py)
        batch=BatchConfig(max_items=settings.embed_batch_max_items, max_wait_s=settings.embed_batch_max_wait_ms / 1000,
                          max_concurrent=None if "bulkhead" in disabled else res.bulkhead.embeddings),
        batching=switches.on("batching"),
    )
    store = VectorStore(clients, guards["vectordb"], batch_size=settings.upsert_batch_size, bulk=switches.on("bulk_upsert"))
    service = QueryService(
        embedder=embedder,
        store=store,
        generator=Generator(clients, guards["chat"], metrics),
        responses=backend.cache("response", maxsize=settings.response_cache_size,
                                ttl_s=settings.response_cache_ttl_s, enabled=switches.on("response_cache")),
        retrievals=backend.cache("retrieval", maxsize=settings.retrieval_cache_size,
                                 ttl_s=settings.retrieval_cache_ttl_s, enabled=switches.on("retrieval_cache")),
        semantic=backend.semantic(enabled=switches.on("semantic_cache")),
        versions=versions,
        metrics=metrics,
        stages=stages,
        revalidate=switches.on("cache_revalidation"),
        late=FinishLate(res.deadline.chat_attempt_s, enabled=switches.on("finish_late")),
    )
    indexer = Indexer(embedder, store, versions, stages)
    queue = backend.ingest_queue(indexer, stages) if switches.on("queue") else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if queue is not None:
            await queue.start()
        gc_watch = FullPassWatch(metrics.gc_full_pass.observe)
        gc_watch.install()
        frozen = switches.on("gc_freeze")
        if frozen:
            metrics.gc_frozen_objects.set(freeze_heap())  # gc_freeze.py: no full-pass stalls
        try:
            yield
        finally:
            gc_watch.remove()
            if frozen:
                gc.unfreeze()  # an app made in a test process hands the heap back on shutdown
            if queue is not None:
                await queue.stop()
            await service.late.close()
            await clients.close()
            await backend.close()

    async def ready() -> dict[str, str]:
        try:
            await store.ping(timeout=2.0)
        except Exception as exc:
            return {"vectordb": f"{type(exc).__name__}: {exc}"[:200]}
        return {}

    app = build_app(settings, title="ragchaos reference app", ready=ready, lifespan=lifespan)
    instrument_app(app, metrics=metrics, recorder=stages)
    install_error_mapping(app)  # QuotaExceeded -> 429, Overloaded -> 503, ... (http_errors.py)
    install_auth(app, metrics.registry)  # off unless RAGCHAOS_AUTH_KEYS(_FILE) is set
    app.state.service = service
    app.state.clients = clients
    app.state.guards = guards
    app.state.queue = queue
    app.include_router(dead_letter_routes(queue))

    def headers(answer: Answer) -> dict[str, str]:
        return {"X-Cache": answer.x_cache, "X-Degraded": answer.body.degraded or "false"}

    @app.post("/v1/query", response_model=QueryResponse)
    async def query(req: QueryRequest) -> Response:
        limits = check_query(req, settings)
        top_k = limits.top_k
        slot = request_guards.hold(req.tenant)
        await slot.__aenter__()
        streaming = False
        try:
            deadline = request_deadline(res, disabled)
            if not req.stream:
                answer = await service.answer(req, top_k, deadline)
                return JSONResponse(limits.report(answer.body).model_dump(), headers=headers(answer))
            result = await service.stream(req, top_k, deadline)
            if isinstance(result, Answer):
                return sse_response(_single(limits.report(result.body)), headers(result))
            streaming = True
            return sse_response(stream_body(result, slot, limits), {"X-Cache": "MISS", "X-Degraded": "false"})
        finally:
            if not streaming:
                await slot.__aexit__(None, None, None)

    async def _single(body: QueryResponse) -> AsyncIterator[bytes]:
        yield sse_done(body)

    async def stream_body(result: tuple, slot: AbstractAsyncContextManager[None],
                          limits: QueryLimits) -> AsyncIterator[bytes]:
        prep, deltas = result
        parts: list[str] = []
        try:
            with stages.time("query.generate"):
                async for delta in deltas:
                    parts.append(delta)
                    yield sse_delta(delta)
            yield sse_done(limits.report(service.finish_stream(prep, "".join(parts)).body))
        except Exception as exc:
            yield sse_error("chat_error", f"{type(exc).__name__}: {exc}"[:300])
        finally:
            await slot.__aexit__(None, None, None)

    @app.post("/v1/documents", status_code=202, response_model=DocumentAccepted | DocumentIndexed)
    async def add_document(req: DocumentRequest) -> Response:
        check_document(req, settings)
        async with request_guards.hold(req.tenant):
            doc = DocIn(req.tenant, req.doc_id, req.text, req.metadata)
            if queue is not None:
                job = await queue.submit(doc)  # committed to disk before we answer
                return JSONResponse(DocumentAccepted(job_id=job.id).model_dump(), status_code=202,
                                    headers={"Location": f"/v1/jobs/{job.id}"})
            try:
                (chunks,) = await indexer.index([doc], Deadline.after(settings.ingest_deadline_s))
            except Exception as exc:
                dep = as_unavailable(exc, "ingest")
                if dep is None:
                    raise
                raise unavailable(dep, metrics) from exc
            return JSONResponse(DocumentIndexed(doc_id=req.doc_id, chunks=chunks).model_dump(), status_code=200)

    @app.get("/v1/jobs/{job_id}", response_model=JobStatus)
    async def get_job(job_id: str) -> JobStatus:
        if queue is None:
            raise ApiError(404, "not_found", "the ingest queue is switched off; documents are indexed inline")
        job = await queue.get(job_id) if _JOB_ID.match(job_id) else None
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id!r}")
        return JobStatus(
            job_id=job.id, tenant=job.tenant, doc_id=job.doc_id, state=job.state,
            attempts=job.attempts, chunks=job.chunks, error=job.error, accepted_at=job.accepted_at,
            finished_at=job.finished_at,
        )

    @app.get("/_stats/breakers", include_in_schema=False)
    async def breakers() -> JSONResponse:
        return JSONResponse(breaker_stats(guards))

    @app.get("/_stats/mechanisms", include_in_schema=False)
    async def mechanisms() -> JSONResponse:
        """Which mechanisms are on, and the counters that show the data-path ones working."""
        return JSONResponse({
            "on": [m for m in MECHANISMS if switches.on(m)],
            "off": sorted(disabled),
            "clients_created": dict(clients.created),  # pooling: stays at 1 each
            "embed_batches": embedder.batcher.batches_sent,
            "upsert_calls": store.upsert_calls,  # bulk_upsert: one per batch, not per vector
            "single_flight_shared": service.flight.shared,
            # finish_late: chat calls that outlived their caller's deadline, and those that answered
            "late_chat_calls": {"started": service.late.started_late, "finished": service.late.finished_late},
            "queue": await queue.store_counts() if queue is not None else None,
        })

    return app

