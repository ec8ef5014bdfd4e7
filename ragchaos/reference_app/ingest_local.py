"""The local ingest queue: ``JobQueue`` over the SQLite job store (jobstore.py).

SQLite calls block, so each runs in a thread (``asyncio.to_thread``); the fsync of a commit
must not stall the event loop. ``submit`` wakes a waiting worker at once; otherwise a worker
sleeps until the next retry is due or ``wait_s`` passes, whichever is first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from ragchaos.reference_app.ingest import DocIn
from ragchaos.reference_app.jobstore import Job, JobStore

__all__ = ["LocalJobQueue"]


class LocalJobQueue:
    def __init__(self, path: Path, *, max_attempts: int = 5, clock: Callable[[], float] | None = None) -> None:
        self.store = JobStore(path, max_attempts=max_attempts, clock=clock or time.time)
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()

    async def start(self) -> int:
        return await asyncio.to_thread(self.store.recover)

    async def close(self) -> None:
        await asyncio.to_thread(self.store.close)

    async def submit(self, doc: DocIn) -> Job:
        job = await asyncio.to_thread(self.store.enqueue, doc.tenant, doc.doc_id, doc.text, doc.metadata)
        self._wake.set()
        return job

    async def get(self, job_id: str) -> Job | None:
        return await asyncio.to_thread(self.store.get, job_id)

    async def claim(self, worker: str, limit: int, wait_s: float) -> list[Job]:
        jobs = await asyncio.to_thread(self.store.claim, limit)
        if jobs:
            if len(jobs) == limit:
                self._wake.set()  # there may be more: let another worker claim in parallel
            return jobs
        self._wake.clear()
        due = await asyncio.to_thread(self.store.next_due_in)
        wait = wait_s if due is None else min(wait_s, max(due, 0.01))
        # asyncio.timeout, not wait_for: on 3.11 wait_for can drop a cancellation that arrives as
        # the event is set (gh-86296), and a worker must always be stoppable
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._wake.wait()
        return []

    @contextlib.asynccontextmanager
    async def holding(self, worker: str, jobs: Sequence[Job]) -> AsyncIterator[None]:
        yield  # the claim is a row state; ``start`` of the next process re-queues it after a crash

    async def complete(self, job: Job, chunks: int) -> None:
        await asyncio.to_thread(self.store.complete, job.id, chunks)
        self._wake.set()  # the next version of this document may now be claimed

    async def fail(self, job: Job, error: str, *, retry_in: float, permanent: bool) -> str:
        state = await asyncio.to_thread(self.store.fail, job.id, error, retry_in=retry_in, permanent=permanent)
        self._wake.set()
        return state

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self.store.counts)

    async def dead_letters(self, limit: int) -> list[Job]:
        return await asyncio.to_thread(self.store.dead_letters, limit)

    async def dead_letter_stats(self) -> tuple[int, float | None]:
        return await asyncio.to_thread(self.store.dead_letter_stats)

    async def replay(self, job_id: str | None) -> list[str]:
        ids = await asyncio.to_thread(self.store.replay, job_id)
        self._wake.set()
        return ids

    async def purge(self, job_id: str | None) -> list[str]:
        return await asyncio.to_thread(self.store.purge, job_id)
