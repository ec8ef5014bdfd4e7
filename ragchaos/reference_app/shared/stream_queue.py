"""The ingest queue on Redis Streams with a consumer group, job state in a hash per job.

* ``submit``: one MULTI/EXEC writes the job hash and XADDs its id to the stream; the API answers
  202 only after Redis acknowledged both, and any replica can then answer ``GET /v1/jobs/{id}``
  (the hash). How durable "acknowledged" is depends on Redis's persistence (appendonly +
  appendfsync in production; the test servers run without persistence).
* Workers (``ingest_workers`` per replica, each its own consumer ``<host>-<pid>-<n>``) read new
  entries with XREADGROUP, index a batch together, and XACK each entry only after its upsert:
  a replica killed mid-job leaves the entry pending.
* Recovery: every worker periodically runs XAUTOCLAIM with ``ingest_claim_idle_s`` as the
  minimum idle time, taking over a dead consumer's pending entries. A live worker on a long job
  keeps its entries fresh (XCLAIM of its own entries resets their idle time every third of
  that), so a slow job is not stolen from a worker that is still on it.
* Processed once in effect: chunk ids are stable (tenant, doc, content), so a redelivered job
  upserts the same ids (an idempotent overwrite, no duplicate), and a job already ``done`` is
  acknowledged without being redone.
* A failed batch is left pending (not acknowledged), so it is redelivered by XAUTOCLAIM after
  the idle time (the retry delay); ``attempts`` counts deliveries, and past
  ``ingest_max_attempts`` the job is ``failed`` and acknowledged.

Not kept from the SQLite queue: its "one job per document at a time" ordering. Two versions of
one document accepted close together may be indexed by two replicas at once, in either order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence

import redis.exceptions

from ragchaos.kit.errors import ApiError
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest import DocIn, Indexer
from ragchaos.reference_app.jobstore import Job
from ragchaos.reference_app.shared.namespace import Namespace, awaitable

__all__ = ["StreamIngestQueue", "consumer_name"]

log = logging.getLogger("ragchaos.ingest")
GROUP = "indexers"
_JOB_TTL_S = 7 * 86_400


def _unavailable(exc: BaseException) -> ApiError:
    # the job was not accepted (or cannot be read): a clear 503 the client may retry, not a 500
    return ApiError(503, "queue_unavailable", f"the ingest queue (Redis) is unavailable: {type(exc).__name__}",
                    {"Retry-After": "1"})


def consumer_name(n: int) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}-{n}"


def _s(v: bytes | None) -> str | None:
    return v.decode() if v is not None else None


def _f(v: bytes | None) -> float | None:
    return float(v) if v not in (None, b"") else None


class StreamIngestQueue:
    def __init__(
        self,
        ns: Namespace,
        indexer: Indexer,
        stages: StageRecorder,
        *,
        workers: int = 2,
        claim: int = 16,
        max_attempts: int = 5,
        job_deadline_s: float = 60.0,
        poll_s: float = 0.5,
        claim_idle_s: float = 30.0,
    ) -> None:
        self.ns = ns
        self.indexer = indexer
        self.stages = stages
        self.workers = workers
        self.claim_n = claim
        self.max_attempts = max_attempts
        self.job_deadline_s = job_deadline_s
        self.poll_s = poll_s
        self.claim_idle_s = claim_idle_s
        self.stream = ns.key("ingest", "stream")
        self._tasks: list[asyncio.Task[None]] = []

    def _job_key(self, job_id: str) -> str:
        return self.ns.key("ingest", "job", job_id)

    async def _ensure_group(self) -> None:
        with contextlib.suppress(redis.exceptions.ResponseError):  # BUSYGROUP: another replica made it
            await self.ns.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)

    async def start(self) -> int:
        try:
            await self._ensure_group()
        except (redis.exceptions.RedisError, OSError) as exc:  # the workers retry; the app starts
            log.warning("ingest queue: redis unavailable at start: %s: %s", type(exc).__name__, exc)
        self._tasks = [asyncio.create_task(self._worker(consumer_name(i)), name=f"ingest-worker-{i}")
                       for i in range(self.workers)]
        return 0

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []

    async def submit(self, doc: DocIn) -> Job:
        job_id = uuid.uuid4().hex
        now = time.time()
        fields = {"id": job_id, "tenant": doc.tenant, "doc_id": doc.doc_id, "text": doc.text,
                  "metadata": json.dumps(doc.metadata) if doc.metadata else "", "state": "queued",
                  "attempts": 0, "error": "", "chunks": "", "accepted_at": repr(now), "started_at": "",
                  "finished_at": ""}
        pipe = self.ns.client.pipeline(transaction=True)
        pipe.hset(self._job_key(job_id), mapping=fields)
        pipe.expire(self._job_key(job_id), _JOB_TTL_S)
        pipe.xadd(self.stream, {"job": job_id})
        try:
            await pipe.execute()  # no 202 unless Redis took both
        except (redis.exceptions.RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        job = await self.get(job_id)
        assert job is not None
        return job

    async def get(self, job_id: str) -> Job | None:
        try:
            h: dict[bytes, bytes] = await awaitable(self.ns.client.hgetall(self._job_key(job_id)))
        except (redis.exceptions.RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        if not h:
            return None
        meta = _s(h.get(b"metadata"))
        chunks = _s(h.get(b"chunks"))
        return Job(
            id=job_id, tenant=_s(h[b"tenant"]) or "", doc_id=_s(h[b"doc_id"]) or "", text=_s(h[b"text"]) or "",
            metadata=json.loads(meta) if meta else None, state=_s(h[b"state"]) or "queued",
            attempts=int(h.get(b"attempts", b"0")), error=_s(h.get(b"error")) or None,
            chunks=int(chunks) if chunks else None, accepted_at=_f(h.get(b"accepted_at")) or 0.0,
            started_at=_f(h.get(b"started_at")), finished_at=_f(h.get(b"finished_at")),
        )

    async def store_counts(self) -> dict[str, int]:
        info = await self.ns.client.xpending(self.stream, GROUP)
        return {"stream_length": int(await self.ns.client.xlen(self.stream)), "pending": int(info["pending"])}

    # -- workers -----------------------------------------------------------------------------

    async def _worker(self, consumer: str) -> None:
        next_autoclaim = 0.0
        while True:
            try:
                entries: list[tuple[bytes, dict[bytes, bytes]]] = []
                if time.monotonic() >= next_autoclaim:
                    # a dead consumer's entries, idle for longer than any live worker lets its own be
                    res = await self.ns.client.xautoclaim(self.stream, GROUP, consumer,
                                                          int(self.claim_idle_s * 1000), "0-0", count=self.claim_n)
                    entries = [e for e in res[1] if e[1] is not None]
                    next_autoclaim = time.monotonic() + self.claim_idle_s / 3
                    if entries:
                        log.info("%s claimed %d pending ingest jobs of a silent consumer", consumer, len(entries))
                if not entries:
                    block_ms = max(1, int(min(self.poll_s, self.claim_idle_s / 3) * 1000))
                    res = await self.ns.client.xreadgroup(GROUP, consumer, {self.stream: ">"},
                                                          count=self.claim_n, block=block_ms)
                    entries = [e for _, batch in (res or []) for e in batch]
                if entries:
                    await self._run(consumer, entries)
            except asyncio.CancelledError:
                raise
            except (redis.exceptions.RedisError, OSError) as exc:
                log.warning("ingest worker %s: redis: %s: %s", consumer, type(exc).__name__, exc)
                await asyncio.sleep(self.poll_s)
                if "NOGROUP" in str(exc):  # Redis was down at start, or restarted without data
                    with contextlib.suppress(redis.exceptions.RedisError, OSError):
                        await self._ensure_group()

    async def _heartbeat(self, consumer: str, ids: Sequence[bytes]) -> None:
        """Keep our pending entries' idle time low while we work on them (XCLAIM to ourselves)."""
        while True:
            await asyncio.sleep(self.claim_idle_s / 3)
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await self.ns.client.xclaim(self.stream, GROUP, consumer, 0, list(ids), justid=True)

    async def _run(self, consumer: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        client = self.ns.client
        work: list[tuple[bytes, Job]] = []
        now = time.time()
        for entry_id, fields in entries:
            job = await self.get(fields[b"job"].decode())
            if job is None or job.state in ("done", "failed"):
                await client.xack(self.stream, GROUP, entry_id)  # expired, or done by an earlier delivery
                continue
            attempts = int(await awaitable(client.hincrby(self._job_key(job.id), "attempts", 1)))
            if attempts > self.max_attempts:
                await awaitable(client.hset(self._job_key(job.id), mapping={"state": "failed", "finished_at": repr(now)}))
                await client.xack(self.stream, GROUP, entry_id)
                continue
            await awaitable(client.hset(self._job_key(job.id),
                                        mapping={"state": "running", "started_at": repr(now), "consumer": consumer}))
            self.stages.record_seconds("ingest.queue_wait", max(0.0, now - job.accepted_at))
            work.append((entry_id, job))
        if not work:
            return
        docs = [DocIn(j.tenant, j.doc_id, j.text, j.metadata) for _, j in work]
        beat = asyncio.create_task(self._heartbeat(consumer, [e for e, _ in work]))
        try:
            counts = await self.indexer.index(docs, Deadline.after(self.job_deadline_s))
        except asyncio.CancelledError:
            raise  # shutting down: the entries stay pending and another worker claims them
        except Exception as exc:
            log.warning("ingest batch of %d jobs failed: %s: %s", len(work), type(exc).__name__, exc)
            for _, job in work:  # left pending: XAUTOCLAIM redelivers after claim_idle_s
                await awaitable(client.hset(self._job_key(job.id),
                                            mapping={"state": "queued", "error": f"{type(exc).__name__}: {exc}"[:500]}))
            return
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        done = time.time()
        for (entry_id, job), count in zip(work, counts, strict=True):
            pipe = client.pipeline(transaction=True)
            pipe.hset(self._job_key(job.id),
                      mapping={"state": "done", "chunks": count, "error": "", "finished_at": repr(done)})
            pipe.xack(self.stream, GROUP, entry_id)
            await pipe.execute()
            self.stages.record_seconds("ingest.freshness", max(0.0, done - job.accepted_at))


