"""The durable ingest queue (the ``queue`` mechanism): one worker loop over either store.

``submit`` hands the job to the store (``JobQueue``: SQLite locally, Redis Streams with
``REDIS_URL``; ingest_store.py) and only then does the API answer 202. Workers claim up to
``claim`` jobs at a time and index them together, so a burst of small documents shares
embeddings calls and upserts.

A batch that fails must not fail its good jobs (``_index``):

* documents the embeddings provider refused for themselves come back as ``DocumentsRefused``
  after the indexer indexed the others in the same call: those go to dead letters, the rest are
  done, in this one delivery;
* any other *permanent* error (the document itself refused: ingest_errors.py, e.g. the vector
  store's validation) means a culprit is in the batch: the batch is split in halves and each half indexed again at once, down to the single
  job that is refused, which goes to dead letters; the others are indexed in this same delivery,
  so their attempts never count another job's error;
* a *transient* error (timeout, 429, 5xx, reset, breaker open) is every job's own: each goes back
  to the queue with exponential backoff and jitter, until its attempt limit makes it a dead letter.

Stages: ``ingest.queue_wait`` (accepted -> claimed) and ``ingest.freshness`` (accepted ->
searchable), both from the job's durable timestamps, so they survive a restart. Metrics:
``ragchaos_ingest_jobs_total{outcome}`` (indexed, retried, dead_lettered) and the dead letters'
count and oldest age (gauges, refreshed every ``stats_every_s``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest import DocIn, DocumentsRefused, Indexer
from ragchaos.reference_app.ingest_errors import Backoff, FailureKind, classify_ingest, describe
from ragchaos.reference_app.ingest_store import JobQueue
from ragchaos.reference_app.jobstore import Job
from ragchaos.reference_app.tasks import cancel_and_wait

__all__ = ["IngestQueue"]

log = logging.getLogger("ragchaos.ingest")


class IngestQueue:
    def __init__(
        self,
        store: JobQueue,
        indexer: Indexer,
        stages: StageRecorder,
        *,
        metrics: AppMetrics | None = None,
        workers: int = 2,
        claim: int = 16,
        job_deadline_s: float = 60.0,
        poll_s: float = 0.5,
        backoff: Backoff | None = None,
        classify: Callable[[BaseException], FailureKind] = classify_ingest,
        clock: Callable[[], float] = time.time,
        stats_every_s: float = 1.0,
    ) -> None:
        self.store = store
        self.indexer = indexer
        self.stages = stages
        self.metrics = metrics
        self.workers = workers
        self.claim_n = claim
        self.job_deadline_s = job_deadline_s
        self.poll_s = poll_s
        self.backoff = backoff or Backoff()
        self.classify = classify
        self.clock = clock
        self.stats_every_s = stats_every_s
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self) -> int:
        self._stopping.clear()  # a queue stopped and started again runs its loops again
        recovered = await self.store.start()
        if recovered:
            log.info("re-queued %d jobs left running by a previous process", recovered)
        self._tasks = [asyncio.create_task(self._worker(f"w{i}"), name=f"ingest-worker-{i}") for i in range(self.workers)]
        if self.metrics is not None:
            self._tasks.append(asyncio.create_task(self._refresh_stats(), name="ingest-dead-letter-stats"))
        return recovered

    async def stop(self) -> None:
        self._stopping.set()  # the loops end at their next turn even if a cancel is lost (tasks.py)
        await cancel_and_wait(self._tasks)
        self._tasks = []
        await self.store.close()

    # -- what the API calls -------------------------------------------------------------------

    async def submit(self, doc: DocIn) -> Job:
        return await self.store.submit(doc)

    async def get(self, job_id: str) -> Job | None:
        return await self.store.get(job_id)

    async def store_counts(self) -> dict[str, int]:
        return await self.store.counts()

    async def dead_letters(self, limit: int = 100) -> list[Job]:
        return await self.store.dead_letters(limit)

    async def dead_letter_stats(self) -> tuple[int, float | None]:
        return await self.store.dead_letter_stats()

    async def replay(self, job_id: str | None = None) -> list[str]:
        self.indexer.forget_refusals()  # the operator says the cause is gone: ask again
        return await self.store.replay(job_id)

    async def purge(self, job_id: str | None = None) -> list[str]:
        ids = await self.store.purge(job_id)
        return ids

    # -- the one worker loop ------------------------------------------------------------------

    async def _worker(self, name: str) -> None:
        while not self._stopping.is_set():
            try:
                jobs = await self.store.claim(name, self.claim_n, self.poll_s)
            except Exception as exc:  # the store is down: try again, never die
                log.warning("claiming ingest jobs failed: %s", describe(exc))
                await asyncio.sleep(self.poll_s)
                continue
            jobs = await self._crash_loops(jobs)
            if not jobs:
                continue
            now = self.clock()
            for job in jobs:
                self.stages.record_seconds("ingest.queue_wait", max(0.0, (job.started_at or now) - job.accepted_at))
            try:
                async with self.store.holding(name, jobs):
                    await self._index(jobs)
            except Exception as exc:  # a store call failed mid-batch: the claims stay, recovery redelivers
                log.warning("ingest batch of %d jobs: %s", len(jobs), describe(exc))
                await asyncio.sleep(self.poll_s)

    async def _crash_loops(self, jobs: list[Job]) -> list[Job]:
        """Jobs delivered more often than their attempts allow never finished: each delivery
        ended with its process (a crash, an OOM kill). They become dead letters, not run again."""
        keep = []
        for job in jobs:
            if job.attempts > self.store.max_attempts:
                await self.store.fail(job, f"delivered {job.attempts} times without finishing (the process died?)",
                                      retry_in=0.0, permanent=True)
                self._count("dead_lettered")
            else:
                keep.append(job)
        return keep

    async def _index(self, jobs: Sequence[Job]) -> None:
        docs = [DocIn(j.tenant, j.doc_id, j.text, j.metadata, version=j.accepted_at) for j in jobs]
        try:
            counts = await self.indexer.index(docs, Deadline.after(self.job_deadline_s))
        except DocumentsRefused as partly:  # the indexer isolated its refusals: no bisection needed
            done = self.clock()
            for job, count in zip(jobs, partly.counts, strict=True):
                refusal = partly.refused.get((job.tenant, job.doc_id))
                if refusal is not None:
                    await self._fail(job, refusal, "permanent")
                    continue
                await self.store.complete(job, count)
                self.stages.record_seconds("ingest.freshness", max(0.0, done - job.accepted_at))
                self._count("indexed")
            return
        except Exception as exc:
            kind = self.classify(exc)
            if kind == "permanent" and len(jobs) > 1:
                mid = len(jobs) // 2  # a culprit is in here: find it, index the rest now
                await self._index(jobs[:mid])
                await self._index(jobs[mid:])
                return
            if len(jobs) > 1 or kind == "permanent":
                log.warning("ingest batch of %d jobs failed (%s): %s", len(jobs), kind, describe(exc))
            for job in jobs:
                await self._fail(job, exc, kind)
            return
        done = self.clock()
        for job, count in zip(jobs, counts, strict=True):
            await self.store.complete(job, count)
            self.stages.record_seconds("ingest.freshness", max(0.0, done - job.accepted_at))
            self._count("indexed")

    async def _fail(self, job: Job, exc: BaseException, kind: FailureKind) -> None:
        state = await self.store.fail(job, describe(exc), retry_in=self.backoff(max(1, job.attempts)),
                                      permanent=kind == "permanent")
        self._count("dead_lettered" if state == "failed" else "retried")
        if state == "failed":
            log.warning("ingest job %s (%s/%s) is a dead letter after %d attempts: %s", job.id, job.tenant,
                        job.doc_id, job.attempts, describe(exc))

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.ingest_jobs.labels(outcome=outcome).inc()

    async def _refresh_stats(self) -> None:
        assert self.metrics is not None
        while not self._stopping.is_set():
            try:
                count, oldest = await self.store.dead_letter_stats()
                self.metrics.dead_letters.set(count)
                self.metrics.dead_letter_oldest_age.set(0.0 if oldest is None else max(0.0, self.clock() - oldest))
            except Exception as exc:
                log.debug("dead letter stats: %s", describe(exc))
            await asyncio.sleep(self.stats_every_s)
