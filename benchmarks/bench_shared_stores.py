"""What sharing state through Redis costs the reference app per operation, vs in-process.

In one run, on one event loop, against a private ``redis-server`` on loopback (or
``--redis-url``): the per-query state operations of the reference app with ``REDIS_URL``
(ragchaos/reference_app/shared/) and without it: a response-cache lookup that hits (corpus version
read + prefetch + get), an embedding-cache lookup of 16 texts (one MGET), a quota take, a
pacing reservation, and an ingest job submitted and read back. Rounds alternate the two
backends so drift on a shared machine hits both; figures are medians of the rounds, in µs per
operation, and the ratio is of those medians (sequential, one caller: latency, not capacity).

    .venv/bin/python benchmarks/bench_shared_stores.py --ops 2000 --rounds 3
    .venv/bin/python benchmarks/bench_shared_stores.py --quick --json shared.json   # make bench: ~10 s
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import figures
import numpy as np

from ragchaos.kit.schemas import QueryResponse
from ragchaos.reference_app.caches import CorpusVersions, LayerCache
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest import DocIn
from ragchaos.reference_app.jobstore import JobStore
from ragchaos.reference_app.pacing import Pacer
from ragchaos.reference_app.quotas import MemoryQuotaStore, TenantLimit
from ragchaos.reference_app.shared.backend import CODECS
from ragchaos.reference_app.shared.caches import WriteBehind, redis_corpus_versions, redis_layer_cache
from ragchaos.reference_app.shared.namespace import connect
from ragchaos.reference_app.shared.pacing import redis_pacer
from ragchaos.reference_app.shared.quotas import RedisQuotaStore
from ragchaos.reference_app.shared.stream_queue import StreamJobQueue
from ragchaos.stack.redis_server import acquire_redis

Op = Callable[[int], Awaitable[object]]


async def _noop_sleep(_: float) -> None:
    return None


async def build(url: str, data: Path) -> dict[str, dict[str, Op]]:
    ns = connect(url, "ragchaos-bench:")
    writes = WriteBehind()
    limit = TenantLimit(rate_per_s=1e9, burst=1e9)
    key = ("acme", 0, "p1", "when does the north lock open", 4, "")
    answer = QueryResponse(answer="At six each morning." * 5, sources=[])
    texts = [("m", f"chunk {i}") for i in range(16)]
    vec = np.ones(384, dtype=np.float32)

    local_resp = LayerCache("response", None, maxsize=10_000, ttl_s=300)
    local_resp.put(key, answer)
    local_versions = CorpusVersions()
    local_emb = LayerCache("embedding", None, maxsize=10_000, ttl_s=None)
    red_resp = redis_layer_cache("response", None, ns, CODECS["response"], writes, maxsize=10_000, ttl_s=300)
    red_resp.put(key, answer)
    red_versions = redis_corpus_versions(ns)
    red_emb = redis_layer_cache("embedding", None, ns, CODECS["embedding"], writes, maxsize=10_000, ttl_s=None)
    for t in texts:
        local_emb.put(t, vec)
        red_emb.put(t, vec)
    await writes.drain()
    mem_q, red_q = MemoryQuotaStore(), RedisQuotaStore(ns)
    kw = {"headroom": 1.0, "sleep": _noop_sleep}
    local_pacer = Pacer(1e9, 1e12, **kw)
    red_pacer = redis_pacer(ns, "embeddings", writes, 1e9, 1e12, **kw)
    jobs = JobStore(data / "q.sqlite3")
    stream = StreamJobQueue(ns)
    await stream.start()

    async def resp(cache: LayerCache, versions: CorpusVersions, _: int) -> object:
        await versions.refresh("acme")
        red_resp._data.clear() if cache is red_resp else None  # another replica's answer: from Redis
        return await cache.lookup(key)

    async def emb(cache: LayerCache, _: int) -> object:
        if cache is red_emb:
            cache._data.clear()
        return await cache.lookup_many(texts)

    async def local_job(i: int) -> object:
        job = await asyncio.to_thread(jobs.enqueue, "acme", f"d{i}", "text", None)
        return await asyncio.to_thread(jobs.get, job.id)

    async def redis_job(i: int) -> object:
        job = await stream.submit(DocIn("acme", f"d{i}", "text", None))
        return await stream.get(job.id)

    return {
        "response-cache hit": {"local": lambda i: resp(local_resp, local_versions, i),
                               "redis": lambda i: resp(red_resp, red_versions, i)},
        "embedding-cache hit, 16 texts": {"local": lambda i: emb(local_emb, i), "redis": lambda i: emb(red_emb, i)},
        "quota take": {"local": lambda i: mem_q.take("acme", 1, limit), "redis": lambda i: red_q.take("acme", 1, limit)},
        "pacing reservation": {"local": lambda i: local_pacer.acquire(10, Deadline.after(60)),
                               "redis": lambda i: red_pacer.acquire(10, Deadline.after(60))},
        "ingest job submit + read": {"local": local_job, "redis": redis_job},
    }


async def timed(op: Op, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        await op(i)
    return (time.perf_counter() - t0) / n * 1e6


async def main_async(url: str, ops: int, rounds: int) -> dict[str, dict[str, float]]:
    """Median µs per operation, local and Redis, by operation (printed as a table too)."""
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        table = await build(url, Path(tmp))
        print(f"{'operation':32} {'local µs':>10} {'redis µs':>10} {'ratio':>7}")
        for name, impls in table.items():
            n = ops if "job" not in name else max(50, ops // 10)  # fsync-bound: fewer
            runs: dict[str, list[float]] = {"local": [], "redis": []}
            for _ in range(rounds):
                for backend in ("local", "redis"):
                    runs[backend].append(await timed(impls[backend], n))
            lo, re_ = statistics.median(runs["local"]), statistics.median(runs["redis"])
            print(f"{name:32} {lo:10.1f} {re_:10.1f} {re_ / lo:7.1f}")
            out[name] = {"local_us": round(lo, 1), "redis_us": round(re_, 1), "ratio": round(re_ / lo, 2)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--redis-url", default=None, help="default: a private redis-server on a free port")
    args = figures.parse(p, {"ops": 200, "rounds": 1})
    if args.redis_url:
        table = asyncio.run(main_async(args.redis_url, args.ops, args.rounds))
    else:
        with tempfile.TemporaryDirectory() as logs, acquire_redis(Path(logs), shared=None) as redis:
            table = asyncio.run(main_async(redis.url, args.ops, args.rounds))
    hit = table["response-cache hit"]
    figures.write(args, {"operations": table, "ops": args.ops, "rounds": args.rounds, "headline": {
        "response-cache hit, in-process / Redis": f"{hit['local_us']:.1f} µs / {hit['redis_us']:.0f} µs"}})


if __name__ == "__main__":
    main()
