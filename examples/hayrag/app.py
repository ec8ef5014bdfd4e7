"""hayrag: a RAG service built the way Haystack's own tutorials build one, with no ragchaos in it.

    pip install haystack-ai chroma-haystack opentelemetry-haystack fastapi uvicorn
    chroma run --port 8001 &
    OPENAI_API_KEY=... CHROMA_HOST=127.0.0.1 CHROMA_PORT=8001 \
        uvicorn --factory hayrag.app:create_app --port 8000

- ``POST /ingest {"id", "text", "tenant"}``: embed the document (OpenAIDocumentEmbedder) and
  write it to Chroma (DocumentWriter, ChromaDocumentStore over HTTP).
- ``POST /query {"question", "tenant"}``: embed the question, retrieve the tenant's closest
  documents from Chroma, build a prompt, ask the chat model; answer
  ``{"answer", "documents": [{"id", "score"}]}``.
- ``GET /health`` (the process is up) and ``GET /ready`` (Chroma answers and holds documents).

Configuration is what a Haystack service reads: the openai SDK reads ``OPENAI_BASE_URL`` and
``OPENAI_API_KEY`` (and Haystack ``OPENAI_MAX_RETRIES``, default 5); the vector store's address
comes from ``CHROMA_HOST`` and ``CHROMA_PORT``. When ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set,
Haystack's OpenTelemetry tracer exports its spans: one ``haystack.pipeline.run`` per pipeline
run and one ``haystack.component.run`` per component, the component in the attribute
``haystack.component.name``.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, HTTPException
from haystack import Document, Pipeline
from haystack.components.builders import ChatPromptBuilder
from haystack.components.embedders import OpenAIDocumentEmbedder, OpenAITextEmbedder
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.components.writers import DocumentWriter
from haystack.dataclasses import ChatMessage
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.components.retrievers.chroma import ChromaEmbeddingRetriever
from haystack_integrations.document_stores.chroma import ChromaDocumentStore
from pydantic import BaseModel

EMBED_MODEL = os.getenv("HAYRAG_EMBED_MODEL", "text-embedding-3-small")
CHAT_MODEL = os.getenv("HAYRAG_CHAT_MODEL", "gpt-4o-mini")
TOP_K = int(os.getenv("HAYRAG_TOP_K", "4"))

PROMPT = [
    ChatMessage.from_system("Answer from the documents only. If they do not say, say you do not know."),
    ChatMessage.from_user("Documents:\n{% for d in documents %}- {{ d.content }}\n{% endfor %}\nQuestion: {{ question }}"),
]


class Ingest(BaseModel):
    id: str
    text: str
    tenant: str


class Query(BaseModel):
    question: str
    tenant: str


def _tracing() -> None:
    """Haystack's spans to the OTLP endpoint in the environment, if there is one."""
    if not os.getenv("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return
    from haystack import tracing
    from haystack_integrations.tracing.opentelemetry import OpenTelemetryTracer
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create())  # service.name from OTEL_SERVICE_NAME
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    tracing.enable_tracing(OpenTelemetryTracer(provider.get_tracer("hayrag")))


def _store() -> ChromaDocumentStore:
    return ChromaDocumentStore(collection_name=os.getenv("HAYRAG_COLLECTION", "hayrag"),
                               host=os.getenv("CHROMA_HOST", "127.0.0.1"), port=int(os.getenv("CHROMA_PORT", "8000")),
                               distance_function="cosine")


def _ingest_pipeline(store: ChromaDocumentStore) -> Pipeline:
    p = Pipeline(metadata={"name": "ingest"})
    p.add_component("doc_embedder", OpenAIDocumentEmbedder(model=EMBED_MODEL))
    p.add_component("writer", DocumentWriter(document_store=store, policy=DuplicatePolicy.OVERWRITE))
    p.connect("doc_embedder.documents", "writer.documents")
    return p


def _query_pipeline(store: ChromaDocumentStore) -> Pipeline:
    p = Pipeline(metadata={"name": "query"})
    p.add_component("text_embedder", OpenAITextEmbedder(model=EMBED_MODEL))
    p.add_component("retriever", ChromaEmbeddingRetriever(document_store=store, top_k=TOP_K))
    p.add_component("prompt_builder", ChatPromptBuilder(template=PROMPT, required_variables=["question"]))
    p.add_component("llm", OpenAIChatGenerator(model=CHAT_MODEL))
    p.connect("text_embedder.embedding", "retriever.query_embedding")
    p.connect("retriever.documents", "prompt_builder.documents")
    p.connect("prompt_builder.prompt", "llm.messages")
    return p


def create_app() -> FastAPI:
    _tracing()
    store = _store()
    ingest, query = _ingest_pipeline(store), _query_pipeline(store)
    app = FastAPI(title="hayrag")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    def ready() -> dict[str, Any]:
        try:
            count = store.count_documents()
        except Exception as exc:  # Chroma not reachable
            raise HTTPException(503, f"vector store unavailable: {exc}") from None
        return {"status": "ready", "documents": count}

    @app.post("/ingest")
    def add(doc: Ingest) -> dict[str, str]:
        try:
            ingest.run({"doc_embedder": {"documents": [
                Document(id=f"{doc.tenant}:{doc.id}", content=doc.text, meta={"doc_id": doc.id, "tenant": doc.tenant})]}})
        except Exception as exc:
            raise HTTPException(502, f"indexing failed: {exc}") from None
        return {"id": doc.id}

    @app.post("/query")
    def ask(q: Query) -> dict[str, Any]:
        only_tenant = {"field": "meta.tenant", "operator": "==", "value": q.tenant}
        try:
            out = query.run({"text_embedder": {"text": q.question}, "retriever": {"filters": only_tenant},
                             "prompt_builder": {"question": q.question}},
                            include_outputs_from={"retriever"})
        except Exception as exc:
            raise HTTPException(502, f"answering failed: {exc}") from None
        docs = out["retriever"]["documents"]
        return {"answer": out["llm"]["replies"][0].text,
                "documents": [{"id": d.meta.get("doc_id"), "score": d.score} for d in docs]}

    return app
