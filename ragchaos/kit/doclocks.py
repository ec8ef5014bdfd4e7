"""One writer at a time per document, in the order they arrive.

Re-indexing a document upserts its new chunks and then deletes the chunks its new text no longer
has. Two writers of the same ``doc_id`` interleaved that way each delete the other's chunks, and
the document can end with none. Holding a document's lock from the first upsert to the last
delete makes writes of one document take turns (``asyncio.Lock`` wakes waiters first come, first
served), so the document ends whole, as the last writer left it. A lock lives only while someone
holds or waits for it, so memory stays bounded by the writes in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

__all__ = ["DocKey", "DocumentLocks"]

DocKey = tuple[str, str]  # (tenant, doc_id)


class DocumentLocks:
    def __init__(self) -> None:
        self._locks: dict[DocKey, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @asynccontextmanager
    async def hold(self, keys: Iterable[DocKey]) -> AsyncIterator[None]:
        """Hold every key's lock; taken in sorted order, so two batches sharing documents never deadlock."""
        ordered = sorted(set(keys))
        for key in ordered:
            lock, users = self._locks.get(key, (None, 0))
            self._locks[key] = (lock or asyncio.Lock(), users + 1)
        held: list[asyncio.Lock] = []
        try:
            for key in ordered:
                lock = self._locks[key][0]
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()
            for key in ordered:
                lock, users = self._locks[key]
                if users <= 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
