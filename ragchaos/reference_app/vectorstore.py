"""The vector store path: guarded Chroma calls, bulk upserts, tenant-filtered search.

* Search always filters on the tenant inside Chroma (``where``), before similarity: no result
  from another tenant, ever. This is not a switch.
* Upserts go in bulk, ``upsert_batch_size`` records per call (``bulk_upsert``); switched off,
  one call per vector, as the naive app does.
* Every call goes through the ``vectordb`` guard, whose per-attempt timeout bounds Chroma's
  otherwise timeout-less HTTP client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ragchaos.kit.prompt import Passage
from ragchaos.kit.schemas import Source
from ragchaos.kit.vectors import ChunkRecord, hits_from_query, stale_ids, tenant_where
from ragchaos.reference_app.clients import Clients
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.resilience import DependencyGuard

__all__ = ["VectorStore"]


def _floats(vector: Sequence[float]) -> list[float]:
    """Plain floats for Chroma's JSON body (float32 round-trips exactly)."""
    return np.asarray(vector, dtype=np.float32).tolist()


class VectorStore:
    def __init__(self, clients: Clients, guard: DependencyGuard, *, batch_size: int, bulk: bool) -> None:
        self.clients = clients
        self.guard = guard
        self.batch_size = batch_size if bulk else 1
        self.upsert_calls = 0

    async def search(
        self, tenant: str, vector: Sequence[float], top_k: int, filters: Mapping[str, Any] | None, deadline: Deadline
    ) -> tuple[list[Source], list[Passage]]:
        where = tenant_where(tenant, filters)

        async def attempt(timeout: float) -> Any:
            collection = await self.clients.collection()
            return await collection.query(
                query_embeddings=[_floats(vector)], n_results=top_k, where=where,
                include=["documents", "metadatas", "distances"],
            )

        result = await self.guard.call(attempt, deadline=deadline)
        return hits_from_query(result)

    async def upsert(self, records: Sequence[ChunkRecord], vectors: Sequence[Sequence[float]], deadline: Deadline) -> None:
        for start in range(0, len(records), self.batch_size):
            part = records[start : start + self.batch_size]
            vecs = [_floats(v) for v in vectors[start : start + self.batch_size]]

            async def attempt(timeout: float, part: Sequence[ChunkRecord] = part, vecs: list = vecs) -> None:
                collection = await self.clients.collection()
                await collection.upsert(
                    ids=[r.id for r in part], embeddings=vecs, documents=[r.text for r in part],
                    metadatas=[r.metadata for r in part],
                )

            self.upsert_calls += 1
            await self.guard.call(attempt, deadline=deadline)

    async def prune(self, keep: Mapping[tuple[str, str], set[str]], deadline: Deadline) -> int:
        """Delete chunks of re-indexed documents that their new text no longer has.

        One ``get`` per tenant in the batch (filtered on tenant and doc ids), one ``delete`` if
        anything is stale; returns how many chunks were removed.
        """
        removed = 0
        for tenant in sorted({t for t, _ in keep}):
            docs = sorted(d for t, d in keep if t == tenant)
            doc_clause: dict[str, Any] = {"doc_id": docs[0]} if len(docs) == 1 else {"doc_id": {"$in": docs}}
            where = {"$and": [{"tenant": tenant}, doc_clause]}

            async def get(timeout: float, where: dict[str, Any] = where) -> Any:
                collection = await self.clients.collection()
                return await collection.get(where=where, include=["metadatas"])

            stale = stale_ids(await self.guard.call(get, deadline=deadline), keep)
            if stale:

                async def delete(timeout: float, stale: list[str] = stale) -> None:
                    collection = await self.clients.collection()
                    await collection.delete(ids=stale)

                await self.guard.call(delete, deadline=deadline)
                removed += len(stale)
        return removed

    async def ping(self, timeout: float) -> None:
        """Readiness: the collection answers (made on first use when pooled)."""
        import asyncio

        async with asyncio.timeout(timeout):
            collection = await self.clients.collection()
            await collection.count()
