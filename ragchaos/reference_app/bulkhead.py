"""Bulkheads: a concurrency cap per dependency, with a short wait and then a fast shed.

One pool per dependency (embeddings, chat, vector store), so a slow vector store cannot take the
slots chat needs. A caller that finds the pool full waits at most ``max_wait_s`` (a short queue
absorbs jitter) and is then refused with ``BulkheadFull`` instead of queueing without bound: a
queue longer than the deadline only turns overload into timeouts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["Bulkhead", "BulkheadConfig", "BulkheadFull"]


class BulkheadConfig(BaseModel):
    """Caps on calls in flight per dependency; the wait before shedding; the Retry-After hint."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embeddings: int = Field(8, ge=1)
    chat: int = Field(16, ge=1)
    vectordb: int = Field(16, ge=1)
    max_wait_s: float = Field(0.05, ge=0)
    retry_after_s: float = Field(1.0, ge=0)

    def limit(self, dependency: str) -> int:
        try:
            return int(getattr(self, dependency))
        except AttributeError:
            raise ValueError(f"no bulkhead size for dependency {dependency!r}") from None


class BulkheadFull(ReferenceAppError):
    def __init__(self, name: str, limit: int, retry_after: float) -> None:
        super().__init__(f"bulkhead {name!r} full ({limit} in flight)")
        self.retry_after = retry_after


class Bulkhead:
    def __init__(
        self, name: str, limit: int, *, max_wait_s: float = 0.05, retry_after_s: float = 1.0
    ) -> None:
        if limit < 1:
            raise ValueError(f"bulkhead limit must be >= 1, got {limit}")
        self.name = name
        self.limit = limit
        self.max_wait_s = max_wait_s
        self.retry_after_s = retry_after_s
        self._semaphore = asyncio.Semaphore(limit)
        self._in_flight = 0
        self.peak = 0  # most calls ever in flight together: lets a test prove the cap held

    @property
    def in_flight(self) -> int:
        return self._in_flight

    async def acquire(self) -> None:
        """Take a slot or raise ``BulkheadFull`` after at most ``max_wait_s``."""
        if not self._semaphore.locked():
            await self._semaphore.acquire()  # free slot: returns without suspending
        elif self.max_wait_s <= 0:
            raise BulkheadFull(self.name, self.limit, self.retry_after_s)
        else:
            try:
                async with asyncio.timeout(self.max_wait_s):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise BulkheadFull(self.name, self.limit, self.retry_after_s) from None
        self._in_flight += 1
        self.peak = max(self.peak, self._in_flight)

    def release(self) -> None:
        self._in_flight -= 1
        self._semaphore.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()
