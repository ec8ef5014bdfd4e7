"""The durable ingest queue's workers (the ``queue`` mechanism; storage in jobstore.py).

``submit`` commits the job to SQLite (in a thread: the fsync must not stall the event loop)
and wakes a worker; only then does the API answer 202. Workers claim up to
``ingest_claim_jobs`` jobs at a time and index them together, so a burst of small documents
shares embeddings calls and upserts. A failed batch puts each job back with exponential backoff
(or ``failed`` after ``ingest_max_attempts``). On start, jobs a crashed process left running are
queued again. Stages: ``ingest.queue_wait`` (accepted -> claimed) and ``ingest.freshness``
(accepted -> searchable), both from the job's durable timestamps, so they survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest import DocIn, Indexer
from ragchaos.reference_app.jobstore import Job, JobStore

__all__ = ["IngestQueue"]

log = logging.getLogger("ragchaos.ingest")


class IngestQueue:
    def __init__(
        self,
        path: Path,
        indexer: Indexer,
        stages: StageRecorder,
        *,
        workers: int = 2,
        claim: int = 16,
        max_attempts: int = 5,
        job_deadline_s: float = 60.0,
        poll_s: float = 0.5,
    ) -> None:
        self.store = JobStore(path, max_attempts=max_attempts)
        self.indexer = indexer
        self.stages = stages
        self.workers = workers
        self.claim_n = claim
        self.job_deadline_s = job_deadline_s
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> int:
        recovered = await asyncio.to_thread(self.store.recover)
        if recovered:
            log.info("re-queued %d jobs left running by a previous process", recovered)
        self._tasks = [asyncio.create_task(self._worker(i), name=f"ingest-worker-{i}") for i in range(self.workers)]
        self._wake.set()
        return recovered

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        await asyncio.to_thread(self.store.close)

    async def submit(self, doc: DocIn) -> Job:
        job = await asyncio.to_thread(self.store.enqueue, doc.tenant, doc.doc_id, doc.text, doc.metadata)
        self._wake.set()
        return job

    async def store_counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self.store.counts)

    async def get(self, job_id: str) -> Job | None:
        return await asyncio.to_thread(self.store.get, job_id)

    async def _worker(self, n: int) -> None:
        while True:
            try:
                jobs = await asyncio.to_thread(self.store.claim, self.claim_n)
            except Exception:
                log.exception("claiming jobs failed")
                jobs = []
            if not jobs:
                self._wake.clear()
                due = await asyncio.to_thread(self.store.next_due_in)
                wait = self.poll_s if due is None else min(self.poll_s, max(due, 0.01))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            if len(jobs) == self.claim_n:
                self._wake.set()  # there may be more: let another worker claim in parallel
            await self._run(jobs)

    async def _run(self, jobs: list[Job]) -> None:
        now = time.time()
        for job in jobs:
            assert job.started_at is not None
            self.stages.record_seconds("ingest.queue_wait", max(0.0, job.started_at - job.accepted_at))
        docs = [DocIn(j.tenant, j.doc_id, j.text, j.metadata, version=j.accepted_at) for j in jobs]
        try:
            counts = await self.indexer.index(docs, Deadline.after(self.job_deadline_s))
        except asyncio.CancelledError:
            raise  # shutting down: ``recover`` re-queues them at the next start
        except Exception as exc:
            log.warning("ingest batch of %d jobs failed: %s: %s", len(jobs), type(exc).__name__, exc)
            for job in jobs:
                retry_in = min(30.0, 0.5 * 2 ** (job.attempts - 1))
                await asyncio.to_thread(self.store.fail, job.id, f"{type(exc).__name__}: {exc}", retry_in=retry_in)
            return
        done = time.time()
        for job, count in zip(jobs, counts, strict=True):
            await asyncio.to_thread(self.store.complete, job.id, count)
            self.stages.record_seconds("ingest.freshness", max(0.0, done - job.accepted_at))
        log.debug("indexed %d jobs in %.3fs", len(jobs), done - now)
