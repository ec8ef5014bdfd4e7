"""What both apps agree on about the vector store: collection, metadata, filters, scores.

One collection per app (``<prefix>_chunks``, cosine space). Every chunk carries its tenant in
its metadata and every query filters on it *inside* Chroma (``where``), before similarity, so
a tenant can never get another tenant's chunk back: that is a security property, not a
mechanism, and no switch turns it off. Chroma is always given our embeddings and
``embedding_function=None``, so it never tries to load (or download) a model of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragchaos.kit.chunking import Chunk, chunk_id
from ragchaos.kit.prompt import Passage
from ragchaos.kit.schemas import Source

__all__ = [
    "COLLECTION_METADATA",
    "ChunkRecord",
    "chroma_settings",
    "chunk_records",
    "hits_from_query",
    "stale_ids",
    "tenant_where",
]

# a wide search beam so the approximate index returns the true top-k in both apps alike
COLLECTION_METADATA = {"hnsw:space": "cosine", "hnsw:search_ef": 100, "hnsw:construction_ef": 100}


def chroma_settings() -> Any:
    """Client settings: no telemetry (loopback only, nothing phones home)."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


class ChunkRecord:
    __slots__ = ("id", "text", "metadata")

    def __init__(self, id: str, text: str, metadata: dict[str, Any]) -> None:
        self.id = id
        self.text = text
        self.metadata = metadata


def chunk_records(tenant: str, doc_id: str, chunks: list[Chunk], metadata: Mapping[str, Any] | None) -> list[ChunkRecord]:
    """Records to upsert for one document's chunks; duplicates of the same text collapse."""
    seen: dict[str, ChunkRecord] = {}
    for c in chunks:
        cid = chunk_id(tenant, doc_id, c.text)
        if cid not in seen:
            meta = {**(metadata or {}), "tenant": tenant, "doc_id": doc_id, "chunk_index": c.index}
            seen[cid] = ChunkRecord(cid, c.text, meta)
    return list(seen.values())


def tenant_where(tenant: str, filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The Chroma ``where`` clause: the tenant always, the caller's equality filters on top."""
    clauses: list[dict[str, Any]] = [{"tenant": tenant}]
    for key, value in sorted((filters or {}).items()):
        clauses.append({key: value})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def hits_from_query(result: Mapping[str, Any]) -> tuple[list[Source], list[Passage]]:
    """Sources (best first) and their passages from a Chroma ``query`` result for one embedding."""
    ids = (result.get("ids") or [[]])[0]
    docs = (result.get("documents") or [[]])[0] or [""] * len(ids)
    metas = (result.get("metadatas") or [[]])[0] or [{}] * len(ids)
    dists = (result.get("distances") or [[]])[0] or [0.0] * len(ids)
    sources: list[Source] = []
    passages: list[Passage] = []
    for cid, text, meta, dist in zip(ids, docs, metas, dists, strict=False):
        doc_id = str((meta or {}).get("doc_id", ""))
        # cosine distance = 1 - cosine similarity; rounded so both apps report identical scores
        sources.append(Source(doc_id=doc_id, chunk_id=cid, score=round(1.0 - float(dist), 6)))
        passages.append(Passage(doc_id=doc_id, chunk_id=cid, text=text or ""))
    return sources, passages


def stale_ids(existing: Mapping[str, Any], keep: Mapping[tuple[str, str], set[str]]) -> list[str]:
    """Ids from a Chroma ``get`` (with metadatas) whose document was re-indexed without them.

    ``keep`` maps (tenant, doc_id) to the chunk ids of the document's new version; a chunk of one
    of those documents that is not in its new version is stale (the text it held is gone).
    """
    out = []
    for cid, meta in zip(existing.get("ids") or [], existing.get("metadatas") or [], strict=False):
        doc = (str((meta or {}).get("tenant")), str((meta or {}).get("doc_id")))
        if doc in keep and cid not in keep[doc]:
            out.append(cid)
    return out
