"""Queries/s at saturation on one core for each app, and the reference's CPU per query on a miss.

    .venv/bin/python benchmarks/bench_apps.py [--queries 400] [--concurrency 16]
    .venv/bin/python benchmarks/bench_apps.py --quick --json apps.json   # make bench: about a minute

A healthy system: the provider (latency model off, limits out of reach) and a Chroma server,
called directly (no fault proxy, whose CPU would share the cores). Each app runs alone, pinned to
core 0; provider, Chroma and this load generator are pinned to core 1. Every query is a distinct
question, so no cache can answer it; the same question list goes to every variant, so the
provider and Chroma do the same work for each. The app's CPU time comes from ``/proc`` (psutil)
over exactly the measured queries.

Variants:
- naive: a new OpenAI and Chroma client per request, no mechanisms;
- reference with every mechanism off except pooling: the same pipeline with pooled clients, the
  baseline for what the mechanisms themselves cost;
- reference, cache off (``RAGCHAOS_DISABLE=cache``): every other mechanism on;
- reference, cache on, every query a miss: the cost of looking up and filling the caches.

The reference's shedding limits (quotas, admission, bulkheads, pacing) are raised above this
load, so the run measures what the mechanisms cost, not what they refuse.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import figures
import httpx
import psutil

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import Endpoint, app_env, start_app, start_chroma, start_provider

TOPICS = ["refund policy returns", "shipping parcel courier", "lighthouse storm lamp", "garden tomatoes compost",
          "telescope nebula galaxy"]

RAISED = {
    "RAGCHAOS_QUOTA__RATE_PER_S": "1000000",
    "RAGCHAOS_QUOTA__BURST": "1000000",
    "RAGCHAOS_ADMISSION__MAX_IN_FLIGHT": "4096",
    "RAGCHAOS_BULKHEAD__EMBEDDINGS": "4096",
    "RAGCHAOS_BULKHEAD__CHAT": "4096",
    "RAGCHAOS_BULKHEAD__VECTORDB": "4096",
    "RAGCHAOS_PACING__EMBEDDINGS_RPM": "100000000",
    "RAGCHAOS_PACING__CHAT_RPM": "100000000",
    "RAGCHAOS_PACING__EMBEDDINGS_TPM": "10000000000",
    "RAGCHAOS_PACING__CHAT_TPM": "10000000000",
}
BARE = "batching,bulk_upsert,queue,cache,retries,breaker,bulkhead,deadline,pacing,quotas,admission"
VARIANTS: list[tuple[str, str, dict[str, str]]] = [
    ("naive", "naive", {}),
    ("reference, every mechanism off but pooling", "reference", {"RAGCHAOS_DISABLE": BARE}),
    ("reference, cache off", "reference", {"RAGCHAOS_DISABLE": "cache", **RAISED}),
    ("reference, cache on (all misses)", "reference", dict(RAISED)),
]

PROVIDER_CONFIG = """
latency: {enabled: false}
embeddings_limits: {rpm: 100000000, tpm: 10000000000}
chat_limits: {rpm: 100000000, tpm: 10000000000}
"""


def pin(pid: int, cores: set[int]) -> None:
    usable = set(os.sched_getaffinity(0)) | cores
    if cores <= usable:
        for p in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
            p.cpu_affinity(sorted(cores))


def document(topic: str, i: int) -> str:
    words = topic.split()
    return " ".join(f"{words[j % len(words)]} item{i}w{j}" for j in range(120))


async def load(url: str, questions: list[str], concurrency: int) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[str] = asyncio.Queue()
    for q in questions:
        queue.put_nowait(q)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            q = queue.get_nowait()
            t = time.perf_counter()
            r = await client.post("/v1/query", json={"tenant": "bench", "question": q})
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200 or r.json().get("degraded"):
                errors += 1

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - t0, latencies, errors


def ingest(url: str) -> None:
    with httpx.Client(base_url=url, timeout=60) as c:
        jobs = []
        for i in range(20):
            r = c.post("/v1/documents", json={"tenant": "bench", "doc_id": f"doc{i}", "text": document(TOPICS[i % 5], i)})
            r.raise_for_status()
            if r.status_code == 202:
                jobs.append(r.json()["job_id"])
        for job in jobs:
            while c.get(f"/v1/jobs/{job}").json()["state"] not in ("done", "failed"):
                time.sleep(0.05)


def run_variant(
    group: ProcessGroup, run: Path, label: str, kind: str, env: dict[str, str], provider: Endpoint, chroma: Endpoint,
    n: int, concurrency: int, warmup: int, rnd: int,
) -> dict[str, Any]:
    name = f"{kind}{abs(hash(label)) % 10000}"
    full_env = app_env(name, provider, chroma, run / "data" / name,
                       {"RAGCHAOS_APP_NAME": kind, "RAGCHAOS_PROVIDER_KEY": "test", "RAGCHAOS_COLLECTION_PREFIX": name,
                        "RAGCHAOS_LOG_LEVEL": "WARNING", **env})
    app_group = ProcessGroup()
    proc, endpoint = start_app(app_group, run / "logs", name, full_env, kind=kind)
    try:
        assert proc.pid is not None
        pin(proc.pid, {0})
        ingest(endpoint.url)
        asyncio.run(load(endpoint.url, [f"warm up {TOPICS[i % 5]} {i}" for i in range(warmup)], concurrency))
        questions = [f"What about {TOPICS[i % 5]} number {rnd}x{i}?" for i in range(n)]
        ps = psutil.Process(proc.pid)
        c0 = ps.cpu_times()
        wall, lat, errors = asyncio.run(load(endpoint.url, questions, concurrency))
        c1 = ps.cpu_times()
        cpu = (c1.user - c0.user) + (c1.system - c0.system)
    finally:
        app_group.stop_all()
    lat.sort()
    return {
        "variant": label, "queries": n, "errors": errors, "qps": n / wall, "app_cores": cpu / wall,
        "cpu_ms_per_query": cpu / n * 1000, "qps_per_app_cpu_s": n / cpu if cpu else float("inf"),
        "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1, help="repeat every variant, interleaved")
    args = figures.parse(parser, {"queries": 40, "warmup": 8}, argv)
    run = Path(tempfile.mkdtemp(prefix="bench-apps-"))
    group = ProcessGroup()
    results: list[dict[str, Any]] = []
    try:
        (run / "provider.yaml").write_text(PROVIDER_CONFIG)
        pp, provider = start_provider(group, run / "logs", config=run / "provider.yaml")
        cp, chroma = start_chroma(group, run / "logs", run / "chroma")
        for p in (pp, cp):
            assert p.pid is not None
            pin(p.pid, {1})
        os.sched_setaffinity(0, {1})
        for rnd in range(args.rounds):
            for label, kind, env in VARIANTS:
                r = run_variant(group, run, label, kind, env, provider, chroma, args.queries, args.concurrency,
                                args.warmup, rnd)
                results.append(r)
                print(f"{r['variant']:<44} {r['qps']:7.1f} q/s  app {r['app_cores']:.2f} cores  "
                      f"{r['cpu_ms_per_query']:6.2f} ms CPU/query  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                      f"errors {r['errors']}", flush=True)
    finally:
        group.stop_all()
        shutil.rmtree(run, ignore_errors=True)
    print()
    print("| variant | queries/s | app CPU (cores) | app CPU ms/query | queries per app CPU-second | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    by: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by.setdefault(r["variant"], []).append(r)
    medians: dict[str, dict[str, float]] = {}
    for label, rs in by.items():
        med = {k: statistics.median(x[k] for x in rs) for k in ("qps", "app_cores", "cpu_ms_per_query",
                                                               "qps_per_app_cpu_s", "p50_ms", "p99_ms")}
        medians[label] = med
        print(f"| {label} | {med['qps']:.1f} | {med['app_cores']:.2f} | {med['cpu_ms_per_query']:.2f} | "
              f"{med['qps_per_app_cpu_s']:.0f} | {med['p50_ms']:.1f} | {med['p99_ms']:.1f} | {sum(x['errors'] for x in rs)} |")
    ratios: dict[str, float] = {}
    for base in ("naive", VARIANTS[1][0]):
        b = statistics.median(r["cpu_ms_per_query"] for r in by[base])
        for label in list(by)[2:]:
            ref = statistics.median(r["cpu_ms_per_query"] for r in by[label])
            ratios[f"{label} / {base}"] = round(ref / b, 3)
            print(f"{label}: {ref / b:.3f}x the CPU per query of '{base}' ({(ref / b - 1) * 100:+.1f} %)")
    miss = f"{VARIANTS[3][0]} / naive"
    figures.write(args, {"rounds": results, "medians": medians, "cpu_per_query_ratios": ratios,
                         "headline": {"reference CPU per query on a cache miss, x the naive's": f"{ratios[miss]:.2f}"}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
