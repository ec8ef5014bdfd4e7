"""The naive RAG service: what most demos and tutorials do.

Read it top to bottom; every choice here is the obvious one, and each is a failure mode the
reference app fixes:

* a new OpenAI client and a new Chroma client for every request (no pooling, a fresh TCP
  connection and Chroma's tenant/database handshake every time);
* the SDK's retries off (``max_retries=0``) so failures surface as they happen, and its
  default timeouts (10 minutes); Chroma's HTTP client has no timeout at all;
* ingestion in the request path: chunk, one embeddings call per chunk, one upsert per vector,
  then 200;
* no cache, no request deadline, no breaker, no concurrency cap, no quota.

It shares with the reference app everything that decides the *answer* (chunking, prompt,
models, tenant filter, scores), so on a healthy system both return the same sources.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import chromadb
from chromadb.api.models.AsyncCollection import AsyncCollection
from fastapi import FastAPI
from openai import AsyncOpenAI
from starlette.responses import JSONResponse, Response

from ragchaos.kit.base import build_app
from ragchaos.kit.chunking import chunk_text
from ragchaos.kit.doclocks import DocumentLocks
from ragchaos.kit.limits import QueryLimits, check_document, check_query
from ragchaos.kit.prompt import CHAT_MODEL, EMBED_MODEL, MAX_ANSWER_TOKENS, TEMPERATURE, build_messages
from ragchaos.kit.schemas import DocumentIndexed, DocumentRequest, QueryRequest, QueryResponse
from ragchaos.kit.settings import AppSettings
from ragchaos.kit.streaming import sse_delta, sse_done, sse_error, sse_response
from ragchaos.kit.vectors import (
    COLLECTION_METADATA,
    chroma_settings,
    chunk_records,
    hits_from_query,
    stale_ids,
    tenant_where,
)
from ragchaos.measure.accounting import count_chat, count_embeddings
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.ops import instrument_app
from ragchaos.measure.stages import StageRecorder

__all__ = ["create_app"]

NAIVE_HEADERS = {"X-Cache": "BYPASS", "X-Degraded": "false"}


def create_app(settings: AppSettings) -> FastAPI:
    metrics = AppMetrics(settings.app_name)
    stages = StageRecorder(strict=True)
    app = build_app(settings, title="ragchaos naive app")
    instrument_app(app, metrics=metrics, recorder=stages)

    def new_openai() -> AsyncOpenAI:
        return AsyncOpenAI(base_url=settings.provider_url, api_key=settings.api_key, max_retries=0)

    async def new_collection() -> AsyncCollection:
        client = await chromadb.AsyncHttpClient(
            host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings()
        )
        return await client.get_or_create_collection(
            settings.collection_name, metadata=COLLECTION_METADATA, embedding_function=None
        )

    # even a tutorial's app must not lose a document to two concurrent writes of it (kit/doclocks.py)
    writers = DocumentLocks()

    @app.post("/v1/documents", response_model=DocumentIndexed)
    async def add_document(req: DocumentRequest) -> DocumentIndexed:
        check_document(req, settings)
        async with writers.hold([(req.tenant, req.doc_id)]):
            return await index_document(req)

    async def index_document(req: DocumentRequest) -> DocumentIndexed:
        with stages.time("ingest.total"), stages.time("ingest.freshness"):
            with stages.time("ingest.chunk"):
                records = chunk_records(req.tenant, req.doc_id, chunk_text(req.text), req.metadata)
            collection = await new_collection()
            async with new_openai() as openai:
                for record in records:  # one embeddings call and one upsert per chunk
                    with stages.time("ingest.embed"):
                        emb = await openai.embeddings.create(model=EMBED_MODEL, input=record.text)
                    count_embeddings(metrics, 1, emb.usage)
                    with stages.time("ingest.upsert"):
                        await collection.upsert(
                            ids=[record.id],
                            embeddings=emb.data[0].embedding,  # one vector; Chroma takes one or a list
                            documents=[record.text],
                            metadatas=[record.metadata],
                        )
            # a re-ingested document: drop the chunks its new text no longer has
            old = await collection.get(
                where={"$and": [{"tenant": req.tenant}, {"doc_id": req.doc_id}]}, include=["metadatas"]
            )
            stale = stale_ids(old, {(req.tenant, req.doc_id): {r.id for r in records}})
            if stale:
                await collection.delete(ids=stale)
        return DocumentIndexed(doc_id=req.doc_id, chunks=len(records))

    @app.post("/v1/query", response_model=QueryResponse)
    async def query(req: QueryRequest) -> Response:
        limits = check_query(req, settings)
        top_k = limits.top_k
        started = time.perf_counter()
        openai = new_openai()
        streaming = False
        try:
            with stages.time("query.embed"):
                emb = await openai.embeddings.create(model=EMBED_MODEL, input=req.question)
            count_embeddings(metrics, 1, emb.usage)
            collection = await new_collection()
            with stages.time("query.retrieve"):
                result = await collection.query(
                    query_embeddings=emb.data[0].embedding,  # one query vector
                    n_results=top_k,
                    where=tenant_where(req.tenant, req.filters),
                    include=["documents", "metadatas", "distances"],
                )
            sources, passages = hits_from_query(result)
            messages = build_messages(req.question, passages)
            if req.stream:  # the stream closes the client and records the total when it ends
                streaming = True
                return sse_response(stream_answer(openai, messages, sources, started, limits), NAIVE_HEADERS)
            with stages.time("query.generate"):
                chat = await openai.chat.completions.create(
                    model=CHAT_MODEL, messages=messages, temperature=TEMPERATURE, max_tokens=MAX_ANSWER_TOKENS
                )
            count_chat(metrics, chat.usage)
            body = limits.report(QueryResponse(answer=chat.choices[0].message.content or "", sources=sources))
        finally:
            if not streaming:
                await openai.close()
                stages.record_seconds("query.total", time.perf_counter() - started)
        return JSONResponse(body.model_dump(), headers=NAIVE_HEADERS)

    async def stream_answer(openai: AsyncOpenAI, messages: list, sources: list, started: float,
                            limits: QueryLimits) -> AsyncIterator[bytes]:
        parts: list[str] = []
        try:
            with stages.time("query.generate"):
                stream = await openai.chat.completions.create(
                    model=CHAT_MODEL, messages=messages, temperature=TEMPERATURE, max_tokens=MAX_ANSWER_TOKENS,
                    stream=True, stream_options={"include_usage": True},
                )
                async for chunk in stream:
                    if chunk.usage is not None:
                        count_chat(metrics, chunk.usage)
                    if chunk.choices and chunk.choices[0].delta.content:
                        parts.append(chunk.choices[0].delta.content)
                        yield sse_delta(chunk.choices[0].delta.content)
            yield sse_done(limits.report(QueryResponse(answer="".join(parts), sources=sources)))
        except Exception as exc:  # the status line is sent: report in-band
            yield sse_error("provider_error", f"{type(exc).__name__}: {exc}"[:300])
        finally:
            await openai.close()
            stages.record_seconds("query.total", time.perf_counter() - started)

    return app
