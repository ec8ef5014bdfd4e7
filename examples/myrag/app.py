"""myrag: a typical small RAG service, written without ragchaos in mind.

    pip install fastapi uvicorn openai numpy opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    OPENAI_API_KEY=... uvicorn --factory myrag.app:create_app --port 8000

- ``POST /docs {"id", "body", "owner"}``: embed a document and keep it in memory.
- ``POST /ask {"q", "user"}``: embed the question, find the owner's closest documents, ask the
  chat model, answer ``{"text", "docs": [{"id", "score"}]}``.
- ``GET /health``.

The openai SDK reads ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``; OpenTelemetry reads
``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_SERVICE_NAME``. Nothing here knows about ragchaos.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import openai
from fastapi import FastAPI, HTTPException
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from pydantic import BaseModel

EMBED_MODEL = os.getenv("MYRAG_EMBED_MODEL", "text-embedding-3-small")
CHAT_MODEL = os.getenv("MYRAG_CHAT_MODEL", "gpt-4o-mini")
TOP_K = int(os.getenv("MYRAG_TOP_K", "4"))


class Doc(BaseModel):
    id: str
    body: str
    owner: str


class Ask(BaseModel):
    q: str
    user: str


class Index:
    """Every owner's documents as rows of a normalised matrix; cosine search by a dot product."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[list[str], list[str], np.ndarray | None]] = {}

    def add(self, owner: str, doc_id: str, text: str, vector: list[float]) -> None:
        v = np.asarray(vector, dtype=np.float32)
        v /= np.linalg.norm(v) or 1.0
        with self._lock:
            ids, texts, matrix = self._rows.get(owner, ([], [], None))
            if doc_id in ids:  # a re-sent document replaces the old one
                i = ids.index(doc_id)
                texts[i] = text
                assert matrix is not None
                matrix[i] = v
            else:
                ids.append(doc_id)
                texts.append(text)
                matrix = v[None, :] if matrix is None else np.vstack([matrix, v])
            self._rows[owner] = (ids, texts, matrix)

    def search(self, owner: str, vector: list[float], k: int) -> list[tuple[str, str, float]]:
        with self._lock:
            ids, texts, matrix = self._rows.get(owner, ([], [], None))
        if matrix is None:
            return []
        q = np.asarray(vector, dtype=np.float32)
        q /= np.linalg.norm(q) or 1.0
        scores = matrix @ q
        best = np.argsort(-scores)[:k]
        return [(ids[i], texts[i], float(scores[i])) for i in best]


def _tracing() -> trace.Tracer:
    provider = TracerProvider(resource=Resource.create())  # service.name from OTEL_SERVICE_NAME
    if os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT") or os.getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("myrag")


def create_app() -> FastAPI:
    app = FastAPI(title="myrag")
    client = openai.AsyncOpenAI(timeout=10.0)  # OPENAI_BASE_URL, OPENAI_API_KEY; 2 retries by default
    index = Index()
    tracer = _tracing()

    async def embed(text: str, span: str) -> list[float]:
        with tracer.start_as_current_span(span):
            out = await client.embeddings.create(model=EMBED_MODEL, input=text)
        return out.data[0].embedding

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/docs", status_code=201)
    async def add_doc(doc: Doc) -> dict[str, str]:
        with tracer.start_as_current_span("ingest"):
            try:
                vector = await embed(doc.body, "embed document")
            except openai.APIError as exc:
                raise HTTPException(status_code=503, detail=f"embedding failed: {exc}") from None
            with tracer.start_as_current_span("index.add"):
                index.add(doc.owner, doc.id, doc.body, vector)
        return {"id": doc.id}

    @app.post("/ask")
    async def ask(req: Ask) -> dict[str, object]:
        with tracer.start_as_current_span("ask"):
            try:
                vector = await embed(req.q, "embed question")
                with tracer.start_as_current_span("vector.search"):
                    hits = index.search(req.user, vector, TOP_K)
                context = "\n\n".join(f"[{doc_id}] {text}" for doc_id, text, _ in hits)
                with tracer.start_as_current_span("llm.complete"):
                    chat = await client.chat.completions.create(
                        model=CHAT_MODEL,
                        messages=[
                            {"role": "system", "content": "Answer from the context only.\n\n" + context},
                            {"role": "user", "content": req.q},
                        ],
                    )
            except openai.APIError as exc:
                raise HTTPException(status_code=503, detail=f"the model is unavailable: {exc}") from None
        return {"text": chat.choices[0].message.content or "",
                "docs": [{"id": doc_id, "score": round(score, 4)} for doc_id, _, score in hits]}

    return app
