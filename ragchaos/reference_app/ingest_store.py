"""The ingest queue's storage, one protocol with two implementations chosen by settings.

``LocalJobQueue`` (ingest_local.py: SQLite on local disk, one replica) and ``StreamJobQueue``
(shared/stream_queue.py: Redis Streams and a consumer group, any number of replicas).
backend.py picks one; the one worker loop (ingest_worker.py) and the admin API see only this.

A claimed job is *held* by its worker until ``complete`` or ``fail``; ``holding`` keeps that
hold alive while the work lasts (Redis: the pending entries' idle time; SQLite: nothing to do,
a crash is noticed by ``start`` of the next process). ``fail`` either re-queues the job after
``retry_in`` or, if ``permanent`` or out of attempts, makes it a dead letter; its answer is the
job's new state (``queued`` or ``failed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from ragchaos.reference_app.ingest import DocIn
from ragchaos.reference_app.jobstore import Job

__all__ = ["JobQueue"]


class JobQueue(Protocol):
    max_attempts: int

    async def start(self) -> int:
        """Prepare; returns how many jobs a crashed process left running were queued again."""
        ...

    async def close(self) -> None: ...

    async def submit(self, doc: DocIn) -> Job:
        """Durably accepted when this returns (the API answers 202 only then)."""
        ...

    async def get(self, job_id: str) -> Job | None: ...

    async def claim(self, worker: str, limit: int, wait_s: float) -> list[Job]:
        """Up to ``limit`` jobs, now held by ``worker``; waits up to ``wait_s`` when none is due."""
        ...

    def holding(self, worker: str, jobs: Sequence[Job]) -> AbstractAsyncContextManager[None]: ...

    async def complete(self, job: Job, chunks: int) -> None: ...

    async def fail(self, job: Job, error: str, *, retry_in: float, permanent: bool) -> str: ...

    async def counts(self) -> dict[str, int]: ...

    async def dead_letters(self, limit: int) -> list[Job]: ...

    async def dead_letter_stats(self) -> tuple[int, float | None]:
        """(count, when the oldest became one: epoch seconds, or None)."""
        ...

    async def replay(self, job_id: str | None) -> list[str]: ...

    async def purge(self, job_id: str | None) -> list[str]: ...
