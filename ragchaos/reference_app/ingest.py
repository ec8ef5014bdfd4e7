"""Indexing documents: chunk, embed in batches, bulk upsert, then move the tenant's corpus version.

The new version tells every cache that the tenant's corpus changed; with it goes what changed
(the documents and their chunk vectors), so answers the change cannot alter are kept
(revalidation.py).

Used by the queue workers (a batch of claimed jobs at once, so their chunks share embeddings
calls and upserts) and, with the ``queue`` switch off, inline in the request. Chunk ids are
stable (tenant, doc, content), so indexing a document twice is an idempotent upsert.

Writes of one document take turns (ragchaos/kit/doclocks.py): upsert-then-prune interleaved
with another writer's would delete both versions' chunks. A queued job carries its acceptance
time as its ``version``: of two jobs for one document (in one batch, or in two workers' batches)
the later accepted wins, and an older one arriving after it is skipped, so the document ends as
the last writer's version whatever order the workers run in.

A document the provider refuses for itself (its chunk over the embedding model's input limit)
does not fail the documents indexed with it: each document's chunks are embedded as their own
request to the micro-batcher (they still share its provider calls, which isolate a refused text),
the others are upserted in the same call, and ``index`` then raises ``DocumentsRefused`` naming
the refused ones. Before, the whole batch failed and the queue bisected it: one extra upsert,
prune and version move per level for every poison, which doubled the good documents' freshness.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragchaos.kit.chunking import chunk_text
from ragchaos.kit.doclocks import DocKey, DocumentLocks
from ragchaos.kit.vectors import ChunkRecord, chunk_records
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.caches import CorpusVersions
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.embedder import Embedder
from ragchaos.reference_app.ingest_errors import classify_ingest
from ragchaos.reference_app.revalidation import CorpusChange
from ragchaos.reference_app.vectorstore import VectorStore

__all__ = ["DocIn", "DocumentsRefused", "Indexer"]


@dataclass(frozen=True)
class DocIn:
    tenant: str
    doc_id: str
    text: str
    metadata: dict[str, Any] | None
    # a queued job's acceptance time: an older version never overwrites a newer one. None (inline
    # writes): the order the writers take the document's lock in decides
    version: float | None = None

    @property
    def key(self) -> DocKey:
        return (self.tenant, self.doc_id)


class DocumentsRefused(Exception):
    """Some documents of a batch were refused for themselves (permanent); the rest were indexed.
    ``refused``: each refused document's key and its own error; ``counts`` as ``index`` returns."""

    def __init__(self, refused: dict[DocKey, BaseException], counts: list[int]) -> None:
        first = next(iter(refused.values()))
        super().__init__(f"{len(refused)} documents refused, the rest indexed; first: {first}")
        self.refused = refused
        self.counts = counts


class IndexedVersions:
    """The newest version indexed per document, for the last ``size`` documents written."""

    def __init__(self, size: int = 65_536) -> None:
        self.size = size
        self._newest: OrderedDict[DocKey, float] = OrderedDict()

    def superseded(self, doc: DocIn) -> bool:
        newest = self._newest.get(doc.key)
        return doc.version is not None and newest is not None and doc.version < newest

    def record(self, doc: DocIn) -> None:
        if doc.version is None:
            return
        self._newest[doc.key] = max(doc.version, self._newest.get(doc.key, doc.version))
        self._newest.move_to_end(doc.key)
        while len(self._newest) > self.size:
            self._newest.popitem(last=False)


def _last_of_each(docs: Sequence[DocIn]) -> list[DocIn]:
    """One version per document: the newest (the later one in the batch when versions tie)."""
    latest: dict[DocKey, DocIn] = {}
    for d in docs:
        kept = latest.get(d.key)
        if kept is None or (d.version or 0.0) >= (kept.version or 0.0):
            latest[d.key] = d
    return list(latest.values())


class Indexer:
    def __init__(self, embedder: Embedder, store: VectorStore, versions: CorpusVersions, stages: StageRecorder) -> None:
        self.embedder = embedder
        self.store = store
        self.versions = versions
        self.stages = stages
        self.writers = DocumentLocks()
        self.indexed = IndexedVersions()

    def forget_refusals(self) -> None:
        """An operator replays dead letters because the cause is gone: ask the provider again."""
        self.embedder.refused.clear()

    async def index(self, docs: Sequence[DocIn], deadline: Deadline) -> list[int]:
        """Index ``docs`` together; returns each document's chunk count (of the text it was given)."""
        counts = [len(chunk_records(d.tenant, d.doc_id, chunk_text(d.text), d.metadata)) for d in docs]
        latest = _last_of_each(docs)
        refused: dict[DocKey, BaseException] = {}
        async with self.writers.hold(d.key for d in latest):
            fresh = [d for d in latest if not self.indexed.superseded(d)]
            if fresh:
                refused = await self._index(fresh, deadline)
            for d in fresh:
                if d.key not in refused:
                    self.indexed.record(d)
        if refused:
            if len(refused) == len(fresh):
                raise next(iter(refused.values()))  # nothing indexed: the refusal itself, as before
            raise DocumentsRefused(refused, counts)
        return counts

    async def _embed_each(self, docs: Sequence[DocIn], per_doc: list[list[ChunkRecord]],
                          deadline: Deadline) -> tuple[list[DocIn], list[list[ChunkRecord]], list[Any],
                                                       dict[DocKey, BaseException]]:
        """Each document's chunks as their own embeddings request (the micro-batcher still sends
        them together). A transient error fails the batch; refusals leave the other documents."""
        results = await asyncio.gather(*(self.embedder.embed([r.text for r in recs], deadline) for recs in per_doc),
                                       return_exceptions=True)
        for res in results:
            if isinstance(res, BaseException) and (not isinstance(res, Exception) or classify_ingest(res) != "permanent"):
                raise res
        refused = {d.key: res for d, res in zip(docs, results, strict=True) if isinstance(res, BaseException)}
        kept = [k for k, res in enumerate(results) if not isinstance(res, BaseException)]
        vectors = [v for k in kept for v in results[k]]  # type: ignore[union-attr]  # kept: no exceptions
        return [docs[k] for k in kept], [per_doc[k] for k in kept], vectors, refused

    async def _index(self, docs: Sequence[DocIn], deadline: Deadline) -> dict[DocKey, BaseException]:
        t0 = time.perf_counter()
        per_doc: list[list[ChunkRecord]] = []
        with self.stages.time("ingest.chunk"):
            for d in docs:
                per_doc.append(chunk_records(d.tenant, d.doc_id, chunk_text(d.text), d.metadata))
        with self.stages.time("ingest.embed"):
            docs, per_doc, vectors, refused = await self._embed_each(docs, per_doc, deadline)
        if not docs:
            return refused
        records = [r for recs in per_doc for r in recs]
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
        return refused
