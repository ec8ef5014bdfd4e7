"""The naive RAG service: what a tutorial writes.

Read it top to bottom; every choice here is the obvious one, and each is a failure mode the
reference app fixes:

* a new OpenAI client and a new Chroma client for every request (no pooling: a fresh TCP
  connection and Chroma's tenant/database handshake every time);
* the ``openai`` SDK exactly as a tutorial leaves it: ``AsyncOpenAI(base_url=..., api_key=...)``,
  so its own defaults apply, 2 retries that honour ``Retry-After`` and a 10-minute timeout.
  Chroma's HTTP client has no timeout at all;
* ingestion in the request path: chunk, one embeddings call per chunk, one upsert per chunk,
  then 200;
* no cache, no request deadline, no breaker, no concurrency cap, no quota.

It measures nothing itself: a run times its calls from outside, at the fault proxy in front of
each dependency, as it would time your own service.

What it imports from ragchaos is what decides the answer and the API, shared with the reference
app so that on a healthy system both return the same sources: the request and response schemas,
chunking, prompt and models, the tenant filter, the input limits, the error JSON and the SSE
format (``ragchaos.kit``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

import chromadb
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

__all__ = ["VARIANTS", "NaiveSettings", "create_app"]

NAIVE_HEADERS = {"X-Cache": "BYPASS", "X-Degraded": "false"}

# sdk-defaults: what a tutorial gets. no-retries: the original story's literal "no retries"
# (max_retries=0), kept as a documented variant; a run names it in the report's header.
VARIANTS = ("sdk-defaults", "no-retries")


class NaiveSettings(AppSettings):
    naive_variant: Literal["sdk-defaults", "no-retries"] = "sdk-defaults"  # RAGCHAOS_NAIVE_VARIANT


def create_app(settings: NaiveSettings) -> FastAPI:
    app = build_app(settings, title="ragchaos naive app")

    def new_openai() -> AsyncOpenAI:
        if settings.naive_variant == "no-retries":
            return AsyncOpenAI(base_url=settings.provider_url, api_key=settings.api_key, max_retries=0)
        return AsyncOpenAI(base_url=settings.provider_url, api_key=settings.api_key)

    async def new_collection():
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
        records = chunk_records(req.tenant, req.doc_id, chunk_text(req.text), req.metadata)
        collection = await new_collection()
        async with new_openai() as openai:
            for record in records:  # one embeddings call and one upsert per chunk
                emb = await openai.embeddings.create(model=EMBED_MODEL, input=record.text)
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
        openai = new_openai()
        try:
            emb = await openai.embeddings.create(model=EMBED_MODEL, input=req.question)
            collection = await new_collection()
            result = await collection.query(
                query_embeddings=emb.data[0].embedding,  # one query vector
                n_results=top_k,
                where=tenant_where(req.tenant, req.filters),
                include=["documents", "metadatas", "distances"],
            )
            sources, passages = hits_from_query(result)
            messages = build_messages(req.question, passages)
            if req.stream:  # the stream closes the client when it ends
                return sse_response(stream_answer(openai, messages, sources, limits), NAIVE_HEADERS)
            chat = await openai.chat.completions.create(
                model=CHAT_MODEL, messages=messages, temperature=TEMPERATURE, max_tokens=MAX_ANSWER_TOKENS
            )
        except BaseException:
            await openai.close()
            raise
        await openai.close()
        body = limits.report(QueryResponse(answer=chat.choices[0].message.content or "", sources=sources))
        return JSONResponse(body.model_dump(), headers=NAIVE_HEADERS)

    async def stream_answer(openai: AsyncOpenAI, messages: list, sources: list,
                            limits: QueryLimits) -> AsyncIterator[bytes]:
        parts: list[str] = []
        try:
            stream = await openai.chat.completions.create(
                model=CHAT_MODEL, messages=messages, temperature=TEMPERATURE, max_tokens=MAX_ANSWER_TOKENS,
                stream=True,
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
                    yield sse_delta(chunk.choices[0].delta.content)
            yield sse_done(limits.report(QueryResponse(answer="".join(parts), sources=sources)))
        except Exception as exc:  # the status line is sent: report in-band
            yield sse_error("provider_error", f"{type(exc).__name__}: {exc}"[:300])
        finally:
            await openai.close()

    return app
