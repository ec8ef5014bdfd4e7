"""The one ingest worker loop over both stores: poison isolated, transient faults retried,
dead letters kept and replayable (reference_app/ingest_queue.py, ingest_local.py,
shared/stream_queue.py).

The indexer stands in for the real one (tests/reliability/test_poison_ingest.py runs the real
provider and Chroma): it refuses any batch holding a poison document with the provider's real
400 (an ``openai.BadRequestError``), and fails every batch with a 503 while a fault is on, the
way the provider answers during an outage. Nothing depends on timing: the fault window is a
count of batches, and every wait is a bounded poll on the store.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import redis.asyncio

from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.caches import CorpusVersions
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest import DocIn, Indexer
from ragchaos.reference_app.ingest_errors import Backoff
from ragchaos.reference_app.ingest_local import LocalJobQueue
from ragchaos.reference_app.ingest_queue import IngestQueue
from ragchaos.reference_app.ingest_store import JobQueue
from ragchaos.reference_app.shared.namespace import Namespace
from ragchaos.reference_app.shared.stream_queue import StreamJobQueue

N_DOCS = 100
POISON = {f"d{i}" for i in range(7, N_DOCS, 50)}  # 2 of 100
_REQ = httpx.Request("POST", "http://127.0.0.1/v1/embeddings")


def _too_long() -> openai.BadRequestError:
    body = {"error": {"message": "This model's maximum context length is 8192 tokens, however you requested "
                                 "9000 tokens in input[0]. Please reduce your prompt.", "type": "invalid_request_error",
                      "param": "input", "code": None}}
    return openai.BadRequestError(body["error"]["message"], response=httpx.Response(400, request=_REQ), body=body)


def _overloaded() -> openai.InternalServerError:
    return openai.InternalServerError("The engine is currently overloaded", response=httpx.Response(503, request=_REQ),
                                      body=None)


class _Indexer:
    def __init__(self, fault_batches: int) -> None:
        self.fault_batches = fault_batches  # the first N batches meet the outage
        self.poison_refused = True
        self.batches = 0
        self.indexed: dict[str, int] = {}

    def forget_refusals(self) -> None:
        return None

    async def index(self, docs: Any, deadline: Deadline) -> list[int]:
        self.batches += 1
        await asyncio.sleep(0)
        if self.batches <= self.fault_batches:
            raise _overloaded()
        if self.poison_refused and any(d.doc_id in POISON for d in docs):
            raise _too_long()
        for d in docs:
            self.indexed[d.doc_id] = self.indexed.get(d.doc_id, 0) + 1
        return [1 for _ in docs]


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def _scenario(store: JobQueue) -> None:
    indexer = _Indexer(fault_batches=6)
    metrics = AppMetrics("test")
    queue = IngestQueue(store, indexer, StageRecorder(), metrics=metrics, workers=2, claim=16, poll_s=0.05,  # type: ignore[arg-type]  # a stand-in indexer
                        backoff=Backoff(0.01, 0.05), stats_every_s=0.05)
    await queue.start()
    try:
        jobs = {f"d{i}": (await queue.submit(DocIn("acme", f"d{i}", f"text {i}", None))).id for i in range(N_DOCS)}

        async def settled() -> bool:
            states = [(await queue.get(j)).state for j in jobs.values()]  # type: ignore[union-attr]  # submitted above
            return all(s in ("done", "failed") for s in states)

        await _until(settled, "every job done or dead")
        got = {d: await queue.get(j) for d, j in jobs.items()}
        good_dead = [d for d, j in got.items() if d not in POISON and j is not None and j.state != "done"]
        assert good_dead == [], f"good documents not indexed: {good_dead}"
        assert set(indexer.indexed) == set(jobs) - POISON and set(indexer.indexed.values()) == {1}
        dead = await queue.dead_letters(100)
        assert {j.doc_id for j in dead} == POISON
        for j in dead:
            assert j.state == "failed" and j.text.startswith("text ") and "maximum context length" in (j.error or "")
            assert j.failures and "BadRequestError" in j.failures[-1][1] and j.failures[-1][0] >= j.accepted_at
        # a good job's attempts: its own failures (the 503s of the fault window) plus the one that
        # worked; never the poison's refusals, which happen in the same delivery as its success
        max_good = max(j.attempts for d, j in got.items() if d not in POISON and j is not None)
        assert max_good <= 1 + indexer.fault_batches, max_good
        count, oldest = await queue.dead_letter_stats()
        assert count == 2 and oldest is not None

        await _until(lambda: _gauge(metrics, 2), "the dead-letter gauge")
        assert metrics.ingest_jobs.labels(outcome="dead_lettered")._value.get() == 2
        assert metrics.ingest_jobs.labels(outcome="retried")._value.get() >= 1

        # the cause is removed (say the provider's limit was raised): replay one, then the rest
        indexer.poison_refused = False
        first, second = sorted(POISON)
        assert await queue.replay(jobs[first]) == [jobs[first]]
        await _until(lambda: _state(queue, jobs[first], "done"), "the replayed job")
        assert [j.doc_id for j in await queue.dead_letters(100)] == [second]
        assert await queue.replay(None) == [jobs[second]]
        await _until(lambda: _state(queue, jobs[second], "done"), "the second replayed job")
        assert await queue.dead_letter_stats() == (0, None)
        assert set(indexer.indexed) == set(jobs)
    finally:
        await queue.stop()


async def _state(queue: IngestQueue, job_id: str, state: str) -> bool:
    job = await queue.get(job_id)
    return job is not None and job.state == state


async def _gauge(metrics: AppMetrics, value: float) -> bool:
    return metrics.dead_letters._value.get() == value


def test_local_queue_isolates_poison_retries_faults_and_replays(tmp_path: Path) -> None:
    asyncio.run(_scenario(LocalJobQueue(tmp_path / "q.sqlite3", max_attempts=10)))


def test_stream_queue_isolates_poison_retries_faults_and_replays(redis_url: str, redis_prefix: str) -> None:
    async def body() -> None:
        client = redis.asyncio.Redis.from_url(redis_url)
        try:
            await _scenario(StreamJobQueue(Namespace(client, redis_prefix), max_attempts=10, claim_idle_s=3.0))
        finally:
            await client.aclose()

    asyncio.run(body())


def test_purge_removes_a_dead_letter_for_good(tmp_path: Path) -> None:
    async def body() -> None:
        store = LocalJobQueue(tmp_path / "q.sqlite3", max_attempts=1)
        job = await store.submit(DocIn("acme", "d", "x", None))
        (claimed,) = await store.claim("w", 10, 0.01)
        assert await store.fail(claimed, "ValueError: refused", retry_in=0.0, permanent=True) == "failed"
        assert [j.id for j in await store.dead_letters(10)] == [job.id]
        assert await store.purge(job.id) == [job.id]
        assert await store.dead_letters(10) == [] and await store.get(job.id) is None
        await store.close()

    asyncio.run(body())


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_transient_failure_is_a_dead_letter_only_on_the_last_attempt(tmp_path: Path, attempts: int) -> None:
    async def body() -> None:
        store = LocalJobQueue(tmp_path / "q.sqlite3", max_attempts=attempts)
        await store.submit(DocIn("acme", "d", "x", None))
        states = []
        for _ in range(attempts):
            (job,) = await store.claim("w", 10, 0.01)
            states.append(await store.fail(job, "APITimeoutError: timed out", retry_in=0.0, permanent=False))
        assert states == ["queued"] * (attempts - 1) + ["failed"]
        (dead,) = await store.dead_letters(10)
        assert dead.attempts == attempts and len(dead.failures) == attempts
        await store.close()

    asyncio.run(body())


@pytest.mark.parametrize("workers", [1, 2])
def test_a_good_document_spends_exactly_one_attempt_beside_poison(tmp_path: Path, workers: int) -> None:
    """Without transient faults, poison in a good document's batch costs it nothing: every good
    job is indexed on its first attempt, once (counted, not timed). Switching the bisection off
    (a permanent error failing the whole batch) makes good jobs retry or die, and this fails."""

    async def body() -> None:
        indexer = _Indexer(fault_batches=0)
        queue = IngestQueue(LocalJobQueue(tmp_path / "q.sqlite3", max_attempts=10), indexer, StageRecorder(),  # type: ignore[arg-type]  # a stand-in indexer
                            workers=workers, claim=16, poll_s=0.05, backoff=Backoff(0.01, 0.05))
        jobs = {f"d{i}": (await queue.submit(DocIn("acme", f"d{i}", f"text {i}", None))).id for i in range(N_DOCS)}
        await queue.start()  # after every submit: the first claims are full batches, poison among them
        try:
            async def settled() -> bool:
                states = [(await queue.get(j)).state for j in jobs.values()]  # type: ignore[union-attr]  # submitted above
                return all(s in ("done", "failed") for s in states)

            await _until(settled, "every job done or dead")
            got = {d: await queue.get(j) for d, j in jobs.items()}
            attempts = {d: j.attempts for d, j in got.items() if d not in POISON and j is not None}
            assert set(attempts.values()) == {1}, {d: a for d, a in attempts.items() if a != 1}
            assert all(got[d].state == "done" for d in attempts)  # type: ignore[union-attr]  # submitted above
            assert indexer.indexed == {d: 1 for d in attempts}
            assert {d for d, j in got.items() if j is not None and j.state == "failed"} == POISON
        finally:
            await queue.stop()

    asyncio.run(body())


class _Embedder:
    """The real Embedder's contract per request: one refused text fails its request with the
    provider's 400 (the micro-batcher keeps it from failing other requests sharing its call)."""

    refused = {"x"}  # Indexer.forget_refusals clears it

    async def embed(self, texts: Any, deadline: Deadline) -> list[Any]:
        if any("POISON" in t for t in texts):
            raise _too_long()
        return [np.ones(4, dtype=np.float32) for _ in texts]


class _Store:
    def __init__(self) -> None:
        self.upserts = 0
        self.records: Counter[str] = Counter()

    async def upsert(self, records: Any, vectors: Any, deadline: Deadline) -> None:
        self.upserts += 1
        self.records.update(r.metadata["doc_id"] for r in records)

    async def prune(self, keep: Any, deadline: Deadline) -> None:
        return None


def test_a_refused_document_costs_its_batch_no_extra_upsert(tmp_path: Path) -> None:
    """The real Indexer: a batch holding poison is indexed in one upsert without it, and the
    poison is a dead letter in the same delivery. Counted: one worker, 100 jobs submitted before
    it starts, claims of 16, so exactly 7 batches and (no faults) 7 upserts. Without the per-document
    refusal the indexer failed the whole batch and the queue bisected it: an upsert, a prune and a
    version move per good half, 2 x 4 more calls per poison, all while the worker holds the batch."""

    async def body() -> None:
        store = _Store()
        indexer = Indexer(_Embedder(), store, CorpusVersions(), StageRecorder())  # type: ignore[arg-type]  # stand-ins
        queue = IngestQueue(LocalJobQueue(tmp_path / "q.sqlite3", max_attempts=10), indexer, StageRecorder(),
                            workers=1, claim=16, poll_s=0.05, backoff=Backoff(0.01, 0.05))
        jobs = {f"d{i}": (await queue.submit(DocIn("acme", f"d{i}", f"text {i}" + (" POISON" * (f"d{i}" in POISON)),
                                                   None))).id for i in range(N_DOCS)}
        await queue.start()
        try:
            async def settled() -> bool:
                states = [(await queue.get(j)).state for j in jobs.values()]  # type: ignore[union-attr]  # submitted above
                return all(s in ("done", "failed") for s in states)

            await _until(settled, "every job done or dead")
            got = {d: await queue.get(j) for d, j in jobs.items()}
            assert {d for d, j in got.items() if j is not None and j.state == "failed"} == POISON
            assert {j.attempts for d, j in got.items() if j is not None} == {1}
            assert set(store.records) == set(jobs) - POISON and set(store.records.values()) == {1}
            assert store.upserts == -(-N_DOCS // 16), store.upserts
            for d in POISON:
                job = got[d]
                assert job is not None and "maximum context length" in (job.error or "")
        finally:
            await queue.stop()

    asyncio.run(body())
