"""The Redis stores of the reference app (ragchaos/reference_app/shared/), each against the real Redis.

Two instances of a store on two connections stand for two replicas. The Lua buckets run on
Redis's clock (``TIME``), which a test cannot inject: those tests use short windows and bounds
that hold however slow this machine is (upper bounds on what is admitted, computed from the
measured elapsed time), never a precise timing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from ragchaos.kit.schemas import QueryResponse
from ragchaos.measure.stages import StageRecorder
from ragchaos.reference_app.caches import LayerCache
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest import DocIn
from ragchaos.reference_app.ingest_queue import IngestQueue
from ragchaos.reference_app.pacing import PaceTimeout
from ragchaos.reference_app.quotas import TenantLimit
from ragchaos.reference_app.semantic_cache import SemanticCache
from ragchaos.reference_app.shared.backend import CODECS
from ragchaos.reference_app.shared.caches import (
    RedisCacheStore,
    WriteBehind,
    redis_corpus_versions,
    redis_layer_cache,
)
from ragchaos.reference_app.shared.namespace import Namespace, connect
from ragchaos.reference_app.shared.pacing import redis_pacer
from ragchaos.reference_app.shared.quotas import RedisQuotaStore
from ragchaos.reference_app.shared.semantic_cache import (
    RedisSemanticStore,
    pack_entry,
    redis_semantic_cache,
    unpack_entry,
)
from ragchaos.reference_app.shared.stream_queue import StreamJobQueue

pytestmark = [pytest.mark.redis]


def _run(url: str, prefix: str, body: Callable[[Namespace, Namespace], Awaitable[None]]) -> None:
    """``body(a, b)`` with two connections (two 'replicas') on one namespace."""

    async def main() -> None:
        a, b = connect(url, prefix), connect(url, prefix)
        try:
            await body(a, b)
        finally:
            keys = [k async for k in a.client.scan_iter(match=prefix + "*")]
            if keys:
                await a.client.delete(*keys)
            await a.client.aclose()
            await b.client.aclose()

    asyncio.run(main())


def _ns_semantic_key(ns: Namespace, partition: tuple[Any, ...]) -> str:
    return RedisSemanticStore(ns, WriteBehind(), str, str, ttl_s=1, max_entries=1).key(partition)


def _store(cache: LayerCache[Any]) -> RedisCacheStore[Any]:
    assert isinstance(cache.store, RedisCacheStore)
    return cache.store


# -- caches ---------------------------------------------------------------------------------

def test_response_cache_written_on_one_replica_is_read_on_the_other(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        wa, wb = WriteBehind(), WriteBehind()
        ca = redis_layer_cache("response", None, a, CODECS["response"], wa, maxsize=10, ttl_s=60)
        cb = redis_layer_cache("response", None, b, CODECS["response"], wb, maxsize=10, ttl_s=60)
        key = ("acme", 0, "p1", "when does the lock open", 4, "")
        await cb.prefetch([key])
        assert cb.get(key) is None
        ca.put(key, QueryResponse(answer="at six", sources=[]))
        await wa.drain()
        await cb.prefetch([key])
        assert cb.get(key) == QueryResponse(answer="at six", sources=[])
        other = ("acme", 1, "p1", "when does the lock open", 4, "")  # a newer corpus version
        await cb.prefetch([other])
        assert cb.get(other) is None
        assert 0 < await b.client.pttl(_store(ca).key(key)) <= 60_000

    _run(redis_url, redis_prefix, body)


def test_embedding_cache_round_trips_float32_vectors(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        w = WriteBehind()
        ca = redis_layer_cache("embedding", None, a, CODECS["embedding"], w, maxsize=10, ttl_s=None)
        cb = redis_layer_cache("embedding", None, b, CODECS["embedding"], w, maxsize=10, ttl_s=None)
        vec = np.arange(384, dtype=np.float32) / 7
        ca.put(("m", "text"), vec)
        await w.drain()
        await cb.prefetch([("m", "text"), ("m", "other")])
        got = cb.get(("m", "text"))
        assert got is not None and got.dtype == np.float32 and np.array_equal(got, vec)
        assert cb.get(("m", "other")) is None

    _run(redis_url, redis_prefix, body)


def test_corpus_version_bumped_on_one_replica_is_seen_by_the_other(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        va, vb = redis_corpus_versions(a), redis_corpus_versions(b)
        changed: list[str] = []
        vb.on_change(changed.append)
        assert await vb.refresh("acme") == 0
        assert await va.advance("acme") == 1
        assert vb.get("acme") == 0  # not read yet
        assert await vb.refresh("acme") == 1 and vb.get("acme") == 1
        assert changed == ["acme"]
        assert await vb.refresh("globex") == 0

    _run(redis_url, redis_prefix, body)


def test_semantic_entry_packs_and_unpacks_exactly() -> None:
    vec = np.random.default_rng(1).standard_normal(384).astype(np.float32)
    out, header = unpack_entry(pack_entry(vec, {"q": "x", "n": 1}))
    assert header == {"q": "x", "n": 1} and np.array_equal(out, vec)


def test_semantic_cache_shared_partitioned_and_guarded(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        w = WriteBehind()

        def make(ns: Namespace) -> SemanticCache:
            return redis_semantic_cache(ns, w, lambda v: v.model_dump(mode="json"), QueryResponse.model_validate,
                                        0.95, ttl_s=60, max_entries=3)

        sa, sb = make(a), make(b)
        rng = np.random.default_rng(7)
        vec = rng.standard_normal(384).astype(np.float32)
        part = ("acme", 0, "p1", "m", 4, "")
        sa.store(part, vec, "Is the north lock open?", QueryResponse(answer="yes", sources=[]))
        await w.drain()
        await sb.prefetch(part)
        near = vec + 0.01 * rng.standard_normal(384).astype(np.float32)
        hit = sb.lookup(part, near, "is the north lock open")
        assert hit is not None and hit.value.answer == "yes" and hit.similarity > 0.95
        assert sb.lookup(part, near, "Is the north lock not open?") is None  # lexical guard
        await sb.prefetch(("globex",) + part[1:])
        assert sb.lookup(("globex",) + part[1:], vec, "Is the north lock open?") is None  # other tenant
        for i in range(4):  # the partition keeps max_entries in Redis too
            sa.store(part, rng.standard_normal(384), f"q{i}", QueryResponse(answer=str(i), sources=[]))
        await w.drain()
        assert await b.client.llen(_ns_semantic_key(a, part)) == 3

    _run(redis_url, redis_prefix, body)


# -- quotas: the Lua token bucket on Redis's clock --------------------------------------------

def test_quota_bucket_burst_then_refusal_then_refill(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        qa, qb = RedisQuotaStore(a), RedisQuotaStore(b)
        slow = TenantLimit(rate_per_s=0.2, burst=4.0)  # a token every 5 s: no refill during the test
        t0 = time.monotonic()
        waits = [await (qa if i % 2 else qb).take("acme", 1.0, slow) for i in range(4)]
        assert waits == [0.0] * 4  # the burst, shared by both "replicas"
        wait = await qa.take("acme", 1.0, slow)
        # one request at 0.2/s is 5 s away, less whatever time passed since the burst began
        assert max(0.0, 5.0 - (time.monotonic() - t0)) - 1e-3 <= wait <= 5.0 and wait > 0.0
        assert await qb.take("globex", 1.0, slow) == 0.0  # another tenant is untouched
        big = await qa.take("acme", 99.0, slow)  # a cost above the burst waits for a full bucket
        assert 0.0 < big <= 4.0 / 0.2
        fast = TenantLimit(rate_per_s=5.0, burst=1.0)
        assert await qb.take("initech", 1.0, fast) == 0.0
        await asyncio.sleep(0.3)  # > 0.2 s at 5/s: the token is back, however slow the machine
        assert await qa.take("initech", 1.0, fast) == 0.0

    _run(redis_url, redis_prefix, body)


def test_quota_bucket_admits_at_most_burst_plus_refill_across_two_clients(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        stores = [RedisQuotaStore(a), RedisQuotaStore(b)]
        limit = TenantLimit(rate_per_s=10.0, burst=5.0)
        t0 = time.monotonic()

        async def hammer(store: RedisQuotaStore) -> int:
            admitted = 0
            for _ in range(60):
                admitted += await store.take("noisy", 1.0, limit) == 0.0
                await asyncio.sleep(0.005)
            return admitted

        counts = await asyncio.gather(*(hammer(s) for s in stores))
        elapsed = time.monotonic() - t0
        total = sum(counts)
        assert total >= 5  # at least the burst
        # Redis's clock runs inside our measured window: it cannot refill more than this
        assert total <= 5 + 10.0 * elapsed + 1, (counts, elapsed)

    _run(redis_url, redis_prefix, body)


# -- pacing: one provider budget for the fleet -------------------------------------------------

def test_pacing_budget_and_pause_are_shared(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        slept: list[float] = []

        async def sleep(s: float) -> None:
            slept.append(s)

        w = WriteBehind()
        # 6 rpm: a burst of 6, then one every 10 s (no refill to speak of during the test)
        pa, pb = (redis_pacer(ns, "embeddings", w, 6, None, headroom=1.0, sleep=sleep) for ns in (a, b))
        t0 = time.monotonic()
        for _ in range(6):
            assert await pa.acquire(0, Deadline.after(60)) == 0.0
        wait = await pb.acquire(0, Deadline.after(60))  # the other replica queues behind
        assert 10.0 - (time.monotonic() - t0) - 1e-3 <= wait <= 10.0 and slept == [wait]
        with pytest.raises(PaceTimeout):
            await pb.acquire(0, Deadline.after(1.0))  # the next one is ~20 s away
        pa.pause(30.0)  # a 429 on A holds B too
        await w.drain()
        with pytest.raises(PaceTimeout) as raised:
            await pb.acquire(0, Deadline.after(5))
        assert 25.0 < raised.value.wait <= 30.0

    _run(redis_url, redis_prefix, body)


# -- the ingest queue on Redis Streams --------------------------------------------------------

class _Indexer:
    """Stands in for the Indexer (the fleet tests use the real one): hangs or counts."""

    def __init__(self, hang: bool) -> None:
        self.hang = hang
        self.started = asyncio.Event()
        self.indexed: list[str] = []

    async def index(self, docs: Any, deadline: Deadline) -> list[int]:
        self.started.set()
        if self.hang:
            await asyncio.Event().wait()
        self.indexed += [d.doc_id for d in docs]
        return [3 for _ in docs]


def test_stream_queue_redelivers_a_silent_consumers_job(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        hanging, working = _Indexer(hang=True), _Indexer(hang=False)
        qa = IngestQueue(StreamJobQueue(a, claim_idle_s=1.5), hanging, StageRecorder(), workers=1, poll_s=0.05)  # type: ignore[arg-type]  # a stand-in indexer
        qb = IngestQueue(StreamJobQueue(b, claim_idle_s=1.5), working, StageRecorder(), workers=1, poll_s=0.05)  # type: ignore[arg-type]  # a stand-in indexer
        await qa.start()
        job = await qa.submit(DocIn("acme", "doc-1", "text", {"k": "v"}))
        assert (await qb.get(job.id)).state in ("queued", "running")
        await asyncio.wait_for(hanging.started.wait(), 10)
        # A's worker holds it; its heartbeat keeps it from being claimed while A lives
        await qb.start()
        await asyncio.sleep(2.0)  # > claim_idle_s
        assert working.indexed == [] and (await qb.get(job.id)).state == "running"
        await qa.stop()  # A goes silent, its entry still pending (not acknowledged)
        deadline = time.monotonic() + 20
        while (state := (await qb.get(job.id)).state) != "done":
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.05)
        done = await qb.get(job.id)
        assert done is not None and done.chunks == 3 and done.attempts == 2 and done.metadata == {"k": "v"}
        assert working.indexed == ["doc-1"]
        assert (await qb.store_counts())["pending"] == 0
        await qb.stop()

    _run(redis_url, redis_prefix, body)


def test_a_keepalive_cancelled_mid_command_always_ends(redis_url: str, redis_prefix: str) -> None:
    """redis-py's asyncio client now and then swallows a cancel that lands while a command is in
    flight (tasks.py). A worker leaving ``holding`` must still find its keepalive ended, however
    the cancel lands: here the keepalive runs an XCLAIM every ~1 ms and the batch ends at a random
    moment, 200 times. Each exit is bounded (5 s) so a lost keepalive fails here, never hangs."""
    import dataclasses
    import random

    async def body(a: Namespace, b: Namespace) -> None:
        queue = StreamJobQueue(a, claim_idle_s=0.003)
        await queue.start()
        job = await queue.submit(DocIn("acme", "doc-1", "text", None))
        [entry] = await a.client.xreadgroup("indexers", "probe", {queue.stream: ">"}, count=1)
        receipt = entry[1][0][0].decode()
        held = dataclasses.replace(job, receipt=receipt)
        rng = random.Random(7)
        before = {t for t in asyncio.all_tasks()}
        for _ in range(200):
            async def one_batch() -> None:
                async with queue.holding("w0", [held]):
                    await asyncio.sleep(rng.random() * 0.004)
            await asyncio.wait_for(one_batch(), 5.0)
        await asyncio.sleep(0)
        assert {t for t in asyncio.all_tasks() if not t.done()} - before - {asyncio.current_task()} == set()

    _run(redis_url, redis_prefix, body)


# -- Redis down: clear answers, never a 500 -----------------------------------------------------

def test_a_replica_whose_redis_is_down_answers_503_for_jobs_and_admits_by_quota(tmp_path) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from ragchaos.core.ports import free_port
    from ragchaos.reference_app.app import create_app
    from ragchaos.reference_app.settings import ReferenceSettings

    settings = ReferenceSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:  # starts although Redis is unreachable
        r = client.post("/v1/documents", json={"tenant": "acme", "doc_id": "d", "text": "some text"})
        assert r.status_code == 503 and r.json()["error"]["type"] == "queue_unavailable", r.text
        assert r.headers["retry-after"] == "1"
        r = client.get(f"/v1/jobs/{'0' * 32}")
        assert r.status_code == 503 and r.json()["error"]["type"] == "queue_unavailable"
