"""Indexing documents: chunk, embed in batches, bulk upsert, then move the tenant's corpus version.

The new version tells every cache that the tenant's corpus changed; with it goes what changed
(the documents and their chunk vectors), so answers the change cannot alter are kept
(revalidation.py).

Used by the queue workers (a batch of claimed jobs at once, so their chunks share embeddings
calls and upserts) and, with the ``queue`` switch off, inline in the request. Chunk ids are
stable (tenant, doc, content), so indexing a document twice is an idempotent upsert.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragchaos.kit.chunking import chunk_text
from ragchaos.kit.vectors import ChunkRecord, chunk_records
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.caches import CorpusVersions
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.embedder import Embedder
from ragchaos.reference_app.revalidation import CorpusChange
from ragchaos.reference_app.vectorstore import VectorStore

__all__ = ["DocIn", "Indexer"]


@dataclass(frozen=True)
class DocIn:
    tenant: str
    doc_id: str
    text: str
    metadata: dict[str, Any] | None


class Indexer:
    def __init__(self, embedder: Embedder, store: VectorStore, versions: CorpusVersions, stages: StageRecorder) -> None:
        self.embedder = embedder
        self.store = store
        self.versions = versions
        self.stages = stages

    def forget_refusals(self) -> None:
        """An operator replays dead letters because the cause is gone: ask the provider again."""
        self.embedder.refused.clear()

    async def index(self, docs: Sequence[DocIn], deadline: Deadline) -> list[int]:
        """Index ``docs`` together; returns each document's chunk count."""
        t0 = time.perf_counter()
        per_doc: list[list[ChunkRecord]] = []
        with self.stages.time("ingest.chunk"):
            for d in docs:
                per_doc.append(chunk_records(d.tenant, d.doc_id, chunk_text(d.text), d.metadata))
        records = [r for recs in per_doc for r in recs]
        with self.stages.time("ingest.embed"):
            vectors = await self.embedder.embed([r.text for r in records], deadline)
        with self.stages.time("ingest.upsert"):
            await self.store.upsert(records, vectors, deadline)
            keep: dict[tuple[str, str], set[str]] = {}
            for d, recs in zip(docs, per_doc, strict=True):
                keep.setdefault((d.tenant, d.doc_id), set()).update(r.id for r in recs)
            await self.store.prune(keep, deadline)  # a re-indexed document loses its old chunks
        rows: dict[str, list[int]] = {}  # tenant -> its rows of ``records`` / ``vectors``
        start = 0
        for d, recs in zip(docs, per_doc, strict=True):
            rows.setdefault(d.tenant, []).extend(range(start, start + len(recs)))
            start += len(recs)
        for tenant, mine in sorted(rows.items()):
            change = CorpusChange.of(tenant, [d.doc_id for d in docs if d.tenant == tenant],
                                     [vectors[i] for i in mine])
            await self.versions.advance(tenant, change)  # cached answers this change can alter are stale
        self.stages.record_seconds("ingest.total", time.perf_counter() - t0)
        return [len(recs) for recs in per_doc]
