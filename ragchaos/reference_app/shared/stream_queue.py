"""The ingest queue on Redis Streams (``JobQueue``): a consumer group, job state in a hash per job.

* ``submit``: one MULTI/EXEC writes the job hash and XADDs its id to the stream; the API answers
  202 only after Redis acknowledged both, and any replica can then answer ``GET /v1/jobs/{id}``
  (the hash). How durable "acknowledged" is depends on Redis's persistence (appendonly +
  appendfsync in production; the test servers run without persistence).
* ``claim``: first the worker's retries that are due (a sorted set of entry ids by due time;
  the ZREM that removes one decides which worker takes it, then XCLAIM), then, every third of
  ``claim_idle_s``, XAUTOCLAIM of entries idle longer than that (a dead consumer's), then new
  entries (XREADGROUP, blocking up to the wait). An entry is XACKed only when its job is done or
  a dead letter: a replica killed mid-job leaves it pending, and another takes it over.
* ``attempts`` is the entry's delivery count from the pending list (XPENDING): XREADGROUP,
  XCLAIM and XAUTOCLAIM each count one; the keepalive (XCLAIM JUSTID) does not. An entry
  delivered more than ``max_attempts`` times without finishing (its worker died every time) is
  a dead letter without being run again.
* ``holding``: while a worker is on a batch, XCLAIM JUSTID of its own entries every third of
  ``claim_idle_s`` keeps their idle time low, so a slow job is not stolen from a live worker.
* A transient failure leaves the entry pending and puts it in the retry set with its due time;
  a dead letter is XACKed and XADDed to the dead-letter stream (``ingest:dead``), whose entries
  list, replay (a fresh entry on the main stream, attempts from zero) and purge it.
* Processed once in effect: chunk ids are stable (tenant, doc, content), so a redelivered job
  upserts the same ids, and a job already ``done`` is acknowledged without being redone.

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
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import redis.exceptions

from ragchaos.kit.errors import ApiError
from ragchaos.reference_app.ingest import DocIn
from ragchaos.reference_app.jobstore import Job
from ragchaos.reference_app.shared.namespace import Namespace, awaitable
from ragchaos.reference_app.tasks import cancel_and_wait

__all__ = ["StreamJobQueue", "consumer_name"]

log = logging.getLogger("ragchaos.ingest")
GROUP = "indexers"
_JOB_TTL_S = 7 * 86_400
_FAILURES_KEPT = 20
_REDIS_DOWN = (redis.exceptions.RedisError, OSError)


def _unavailable(exc: BaseException) -> ApiError:
    # the job was not accepted (or cannot be read): a clear 503 the client may retry, not a 500
    return ApiError(503, "queue_unavailable", f"the ingest queue (Redis) is unavailable: {type(exc).__name__}",
                    {"Retry-After": "1"})


def consumer_name(n: int | str) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}-{n}"


def _s(v: bytes | None) -> str | None:
    return v.decode() if v is not None else None


def _f(v: bytes | None) -> float | None:
    return float(v) if v not in (None, b"") else None


def _entry_ms(entry_id: bytes | str) -> float:
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(raw.split("-")[0]) / 1000.0


class StreamJobQueue:
    def __init__(
        self,
        ns: Namespace,
        *,
        max_attempts: int = 5,
        claim_idle_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ns = ns
        self.max_attempts = max_attempts
        self.claim_idle_s = claim_idle_s
        self.clock = clock
        self.stream = ns.key("ingest", "stream")
        self.dead = ns.key("ingest", "dead")
        self.retries = ns.key("ingest", "retry")
        self._consumers: dict[str, str] = {}
        self._next_autoclaim: dict[str, float] = {}

    def _job_key(self, job_id: str) -> str:
        return self.ns.key("ingest", "job", job_id)

    def _consumer(self, worker: str) -> str:
        if worker not in self._consumers:
            self._consumers[worker] = consumer_name(worker)
        return self._consumers[worker]

    async def _ensure_group(self) -> None:
        with contextlib.suppress(redis.exceptions.ResponseError):  # BUSYGROUP: another replica made it
            await self.ns.client.xgroup_create(self.stream, GROUP, id="0", mkstream=True)

    async def start(self) -> int:
        try:
            await self._ensure_group()
        except _REDIS_DOWN as exc:  # the workers retry; the app starts
            log.warning("ingest queue: redis unavailable at start: %s: %s", type(exc).__name__, exc)
        return 0  # a dead replica's entries are taken over by XAUTOCLAIM, not at start

    async def close(self) -> None:
        return None  # the connection belongs to the backend

    # -- the API's side -----------------------------------------------------------------------

    async def submit(self, doc: DocIn) -> Job:
        job_id = uuid.uuid4().hex
        fields = {"id": job_id, "tenant": doc.tenant, "doc_id": doc.doc_id, "text": doc.text,
                  "metadata": json.dumps(doc.metadata) if doc.metadata else "", "state": "queued",
                  "attempts": 0, "error": "", "chunks": "", "accepted_at": repr(self.clock()), "started_at": "",
                  "finished_at": "", "failures": ""}
        pipe = self.ns.client.pipeline(transaction=True)
        pipe.hset(self._job_key(job_id), mapping=fields)
        pipe.expire(self._job_key(job_id), _JOB_TTL_S)
        pipe.xadd(self.stream, {"job": job_id})
        try:
            await pipe.execute()  # no 202 unless Redis took both
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from None
        job = await self.get(job_id)
        assert job is not None
        return job

    async def get(self, job_id: str) -> Job | None:
        try:
            h: dict[bytes, bytes] = await awaitable(self.ns.client.hgetall(self._job_key(job_id)))
        except _REDIS_DOWN as exc:
            raise _unavailable(exc) from None
        return _job(job_id, h) if h else None

    async def counts(self) -> dict[str, int]:
        c = self.ns.client
        info = await c.xpending(self.stream, GROUP)
        return {"stream_length": int(await c.xlen(self.stream)), "pending": int(info["pending"]),
                "retry_scheduled": int(await c.zcard(self.retries)), "failed": int(await c.xlen(self.dead))}

    # -- the workers' side --------------------------------------------------------------------

    async def claim(self, worker: str, limit: int, wait_s: float) -> list[Job]:
        consumer = self._consumer(worker)
        c = self.ns.client
        try:
            entries = await self._due_retries(consumer, limit)
            now = time.monotonic()
            if not entries and now >= self._next_autoclaim.get(consumer, 0.0):
                # a dead consumer's entries, idle for longer than any live worker lets its own be
                res = await c.xautoclaim(self.stream, GROUP, consumer, int(self.claim_idle_s * 1000), "0-0",
                                         count=limit)
                entries = [e for e in res[1] if e[1] is not None]
                self._next_autoclaim[consumer] = now + self.claim_idle_s / 3
                if entries:
                    log.info("%s took over %d pending ingest jobs of a silent consumer", consumer, len(entries))
            if not entries:
                block_ms = max(1, int(min(wait_s, self.claim_idle_s / 3, await self._next_retry_in()) * 1000))
                res = await c.xreadgroup(GROUP, consumer, {self.stream: ">"}, count=limit, block=block_ms)
                entries = [e for _, batch in (res or []) for e in batch]
            return await self._jobs(consumer, entries)
        except redis.exceptions.ResponseError as exc:
            if "NOGROUP" in str(exc):  # Redis was down at start, or restarted without data
                await self._ensure_group()
            raise

    async def _next_retry_in(self) -> float:
        first = await self.ns.client.zrange(self.retries, 0, 0, withscores=True)
        return float("inf") if not first else max(0.01, float(first[0][1]) - self.clock())

    async def _due_retries(self, consumer: str, limit: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        c = self.ns.client
        due: list[bytes] = await c.zrangebyscore(self.retries, "-inf", self.clock(), start=0, num=limit)
        if not due:
            return []
        pipe = c.pipeline(transaction=False)
        for entry_id in due:
            pipe.zrem(self.retries, entry_id)
        won = [e for e, removed in zip(due, await pipe.execute(), strict=True) if removed]  # ZREM decides who
        if not won:
            return []
        ids: list[Any] = list(won)  # redis-py's stub types the id list oddly
        claimed = await c.xclaim(self.stream, GROUP, consumer, 0, ids)
        return [e for e in claimed if e[1] is not None]

    async def _jobs(self, consumer: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> list[Job]:
        if not entries:
            return []
        c = self.ns.client
        pipe = c.pipeline(transaction=False)
        for entry_id, _ in entries:
            pipe.xpending_range(self.stream, GROUP, min=entry_id, max=entry_id, count=1)
        delivered = {p["message_id"]: int(p["times_delivered"]) for rows in await pipe.execute() for p in rows}
        now = self.clock()
        jobs: list[Job] = []
        for entry_id, fields in entries:
            job = await self.get(fields[b"job"].decode())
            if job is None or job.state in ("done", "failed"):
                await c.xack(self.stream, GROUP, entry_id)  # expired, or finished by an earlier delivery
                continue
            attempts = delivered.get(entry_id, 1)
            job = _replace(job, receipt=entry_id.decode(), attempts=attempts, started_at=now, state="running")
            await awaitable(c.hset(self._job_key(job.id), mapping={
                "state": "running", "started_at": repr(now), "consumer": consumer, "attempts": attempts,
                "entry": entry_id}))
            jobs.append(job)
        return jobs

    @contextlib.asynccontextmanager
    async def holding(self, worker: str, jobs: Sequence[Job]) -> AsyncIterator[None]:
        consumer = self._consumer(worker)
        done = asyncio.Event()
        beat = asyncio.create_task(self._keepalive(consumer, [j.receipt for j in jobs if j.receipt], done),
                                   name=f"ingest-keepalive-{worker}")
        try:
            yield
        finally:
            done.set()  # the loop ends at its next turn even if redis-py swallows the cancel (tasks.py)
            await cancel_and_wait([beat])  # not ``suppress(CancelledError): await beat``: tasks.py

    async def _keepalive(self, consumer: str, entry_ids: list[str], done: asyncio.Event) -> None:
        """Keep our pending entries' idle time low while we work on them (XCLAIM to ourselves)."""
        ids: list[Any] = list(entry_ids)
        while ids and consumer and not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self.claim_idle_s / 3)
                return
            with contextlib.suppress(*_REDIS_DOWN):
                await self.ns.client.xclaim(self.stream, GROUP, consumer, 0, ids, justid=True)

    async def complete(self, job: Job, chunks: int) -> None:
        pipe = self.ns.client.pipeline(transaction=True)
        pipe.hset(self._job_key(job.id),
                  mapping={"state": "done", "chunks": chunks, "error": "", "finished_at": repr(self.clock())})
        if job.receipt:
            pipe.xack(self.stream, GROUP, job.receipt)
        await pipe.execute()

    async def fail(self, job: Job, error: str, *, retry_in: float, permanent: bool) -> str:
        now = self.clock()
        failures = list(job.failures) + [(now, error[:500])]
        state = "failed" if permanent or job.attempts >= self.max_attempts else "queued"
        pipe = self.ns.client.pipeline(transaction=True)
        pipe.hset(self._job_key(job.id), mapping={
            "state": state, "error": error[:500], "failures": json.dumps(failures[-_FAILURES_KEPT:]),
            "finished_at": repr(now) if state == "failed" else ""})
        if state == "failed":
            pipe.persist(self._job_key(job.id))  # a dead letter stays until replayed or purged
            if job.receipt:
                pipe.xack(self.stream, GROUP, job.receipt)
                pipe.zrem(self.retries, job.receipt)
            pipe.xadd(self.dead, {"job": job.id})
        elif job.receipt:
            pipe.zadd(self.retries, {job.receipt: now + retry_in})  # stays pending until then
        await pipe.execute()
        return state

    # -- dead letters -------------------------------------------------------------------------

    async def _dead_entries(self, limit: int | None = None) -> list[tuple[bytes, str]]:
        rows = await self.ns.client.xrange(self.dead, "-", "+", count=limit)
        return [(entry_id, fields[b"job"].decode()) for entry_id, fields in rows]

    async def dead_letters(self, limit: int) -> list[Job]:
        out: list[Job] = []
        for _, job_id in await self._dead_entries(limit):
            job = await self.get(job_id)
            if job is not None:
                out.append(job)
        return out

    async def dead_letter_stats(self) -> tuple[int, float | None]:
        c = self.ns.client
        first = await c.xrange(self.dead, "-", "+", count=1)
        return int(await c.xlen(self.dead)), (_entry_ms(first[0][0]) if first else None)

    async def replay(self, job_id: str | None) -> list[str]:
        replayed: list[str] = []
        for entry_id, jid in await self._dead_entries():
            if job_id is not None and jid != job_id:
                continue
            pipe = self.ns.client.pipeline(transaction=True)
            pipe.xdel(self.dead, entry_id)
            pipe.hset(self._job_key(jid), mapping={"state": "queued", "attempts": 0, "error": "", "finished_at": ""})
            pipe.expire(self._job_key(jid), _JOB_TTL_S)
            pipe.xadd(self.stream, {"job": jid})
            await pipe.execute()
            replayed.append(jid)
        return replayed

    async def purge(self, job_id: str | None) -> list[str]:
        purged: list[str] = []
        for entry_id, jid in await self._dead_entries():
            if job_id is not None and jid != job_id:
                continue
            pipe = self.ns.client.pipeline(transaction=True)
            pipe.xdel(self.dead, entry_id)
            pipe.delete(self._job_key(jid))
            await pipe.execute()
            purged.append(jid)
        return purged


def _replace(job: Job, **changes: Any) -> Job:
    import dataclasses

    return dataclasses.replace(job, **changes)


def _job(job_id: str, h: dict[bytes, bytes]) -> Job:
    meta = _s(h.get(b"metadata"))
    chunks = _s(h.get(b"chunks"))
    failures = _s(h.get(b"failures"))
    return Job(
        id=job_id, tenant=_s(h[b"tenant"]) or "", doc_id=_s(h[b"doc_id"]) or "", text=_s(h[b"text"]) or "",
        metadata=json.loads(meta) if meta else None, state=_s(h[b"state"]) or "queued",
        attempts=int(h.get(b"attempts", b"0")), error=_s(h.get(b"error")) or None,
        chunks=int(chunks) if chunks else None, accepted_at=_f(h.get(b"accepted_at")) or 0.0,
        started_at=_f(h.get(b"started_at")), finished_at=_f(h.get(b"finished_at")),
        failures=tuple((float(at), str(err)) for at, err in json.loads(failures)) if failures else (),
        receipt=_s(h.get(b"entry")),
    )
