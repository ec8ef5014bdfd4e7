"""The reference app at ten times its capacity: what it sheds, how fast, and what it keeps.

    .venv/bin/python benchmarks/bench_overload.py [--factor 10] [--seconds 20]
    .venv/bin/python benchmarks/bench_overload.py --quick --json overload.json   # make bench: under a minute

A provider (latency model on, rate limits out of reach, so the app itself is the bottleneck)
and a Chroma server, called directly; the reference app with its caches off (every query is a
full pipeline), tenant quotas raised (admission, not the quota, is what must refuse) and its
admission control at the defaults (64 in flight, 100 ms wait, Retry-After 1 s).

1. Capacity: a closed loop of 16 clients (the chat bulkhead's cap, the tightest in the query
   path) sends distinct questions; the queries/s it sustains is the capacity C, and its p99 the
   latency at capacity.
2. Overload: an open loop sends ``factor * C`` requests/s for ``--seconds`` (bounded: at most
   20,000 requests, each with a 30 s client timeout), whatever the answers, and records every
   status, Retry-After header and latency. A 200 is either a full answer or a degraded one (the
   chat bulkhead full: the sources without a generated answer, fast); both are counted. The app's ``VmRSS`` (/proc/<pid>/status) is sampled
   every 250 ms, and again after 5 s idle.

Loopback only; every process is stopped by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import figures

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import app_env, start_app, start_chroma, start_provider

PROVIDER_CONFIG = """
embeddings_limits: {rpm: 100000000, tpm: 10000000000}
chat_limits: {rpm: 100000000, tpm: 10000000000}
"""
APP_ENV = {
    "RAGCHAOS_DISABLE": "cache",
    "RAGCHAOS_QUOTA__RATE_PER_S": "1000000",
    "RAGCHAOS_QUOTA__BURST": "1000000",
    "RAGCHAOS_LOG_LEVEL": "WARNING",
}
TOPICS = ["refund policy returns", "shipping parcel courier", "lighthouse storm lamp", "garden tomatoes compost",
          "telescope nebula galaxy"]
MAX_REQUESTS = 20_000
BUDGET_S = 10.0  # the reference app's request budget (deadline.request_s)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def ingest(url: str) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=60) as c:
        jobs = []
        for i in range(20):
            text = " ".join(f"{TOPICS[i % 5].split()[j % 3]} item{i}w{j}" for j in range(120))
            r = c.post("/v1/documents", json={"tenant": "bench", "doc_id": f"doc{i}", "text": text})
            r.raise_for_status()
            jobs.append(r.json()["job_id"])
        for job in jobs:
            while c.get(f"/v1/jobs/{job}").json()["state"] not in ("done", "failed"):
                time.sleep(0.05)


async def _post(session: aiohttp.ClientSession, url: str, question: str) -> tuple[int, float, str | None, str]:
    """(status, seconds, Retry-After, the error's type or "ok")."""
    t = time.perf_counter()
    try:
        async with session.post(f"{url}/v1/query", json={"tenant": "bench", "question": question}) as r:
            body = await r.read()
            kind = "ok"
            if r.status == 200:
                degraded = json.loads(body).get("degraded")
                kind = f"degraded:{degraded}" if degraded else "ok"
            else:
                try:
                    kind = json.loads(body)["error"]["type"]
                except (ValueError, KeyError, TypeError):
                    kind = "?"
            return r.status, time.perf_counter() - t, r.headers.get("Retry-After"), kind
    except (TimeoutError, aiohttp.ClientError) as exc:
        return -1, time.perf_counter() - t, None, type(exc).__name__


async def capacity(url: str, n: int, concurrency: int) -> tuple[float, list[float], Counter[int]]:
    questions = iter(f"What about {TOPICS[i % 5]} case {i}?" for i in range(n))
    lat: list[float] = []
    codes: Counter[int] = Counter()
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as s:
        async def worker() -> None:
            for q in questions:
                code, t, _, _ = await _post(s, url, q)
                codes[code] += 1
                if code == 200:
                    lat.append(t)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return codes[200] / (time.perf_counter() - t0), lat, codes


async def overload(url: str, rate: float, seconds: float, pid: int) -> dict[str, Any]:
    total = min(MAX_REQUESTS, int(rate * seconds))
    results: list[tuple[int, float, str | None, str]] = []
    rss: list[int] = []
    conn = aiohttp.TCPConnector(limit=2000)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=30)) as s:
        async def sample() -> None:
            while True:
                rss.append(rss_kib(pid))
                await asyncio.sleep(0.25)

        async def one(i: int) -> None:
            results.append(await _post(s, url, f"Overload {TOPICS[i % 5]} number {i}?"))

        sampler = asyncio.create_task(sample())
        tasks = []
        t0 = time.perf_counter()
        for i in range(total):  # open loop: the i-th request goes at t0 + i / rate, answered or not
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        sent_s = time.perf_counter() - t0
        await asyncio.gather(*tasks)
        sampler.cancel()
    return {"results": results, "rss": rss, "sent": total, "sent_s": sent_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factor", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=float, default=None,
                    help="offered requests/s (default: factor x the measured capacity)")
    ap.add_argument("--capacity-queries", type=int, default=400)
    # the chat bulkhead's cap (16): more clients than that measure its refusals, not capacity
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--warm-queries", type=int, default=64, help="queries that warm the pools before measuring")
    args = figures.parse(ap, {"seconds": 3.0, "capacity_queries": 48, "warm_queries": 16})

    run = Path(tempfile.mkdtemp(prefix="bench-overload-"))
    (run / "provider.yaml").write_text(PROVIDER_CONFIG)
    group = ProcessGroup()
    try:
        _, provider = start_provider(group, run / "logs", config=run / "provider.yaml")
        _, chroma = start_chroma(group, run / "logs", run / "chroma")
        env = app_env("reference", provider, chroma, run / "data", {**APP_ENV, "RAGCHAOS_PROVIDER_KEY": "test"})
        proc, app = start_app(group, run / "logs", "reference", env)
        assert proc.pid is not None
        ingest(app.url)
        asyncio.run(capacity(app.url, args.warm_queries, 16))  # warm the pools
        cap, cap_lat, cap_codes = asyncio.run(capacity(app.url, args.capacity_queries, args.concurrency))
        rss_before = rss_kib(proc.pid)
        rate = args.rate or cap * args.factor
        over = asyncio.run(overload(app.url, rate, args.seconds, proc.pid))
        time.sleep(5)
        rss_idle = rss_kib(proc.pid)
    finally:
        group.stop_all()
        shutil.rmtree(run, ignore_errors=True)

    res = over["results"]
    codes = Counter(c for c, *_ in res)
    ok = [t for c, t, *_ in res if c == 200]
    shed = [(t, ra) for c, t, ra, _ in res if c == 503]
    full = [t for c, t, _, k in res if c == 200 and k == "ok"]
    report = {
        "capacity_qps": round(cap, 1), "capacity_p99_s": round(pct(cap_lat, 99), 3),
        "capacity_codes": dict(cap_codes),
        "offered_rps": round(over["sent"] / over["sent_s"], 1), "target_rps": round(rate, 1),
        "requests": over["sent"], "codes": dict(codes),
        "refusals_by_type": dict(Counter(k for c, _, _, k in res if c != 200)),
        "shed_fraction": round(len(shed) / len(res), 3),
        "shed_with_retry_after": sum(1 for _, ra in shed if ra and ra.isdigit() and int(ra) >= 1),
        "shed_p50_ms": round(1000 * pct([t for t, _ in shed], 50), 1),
        "shed_p99_ms": round(1000 * pct([t for t, _ in shed], 99), 1),
        "admitted_qps": round(len(ok) / over["sent_s"], 1),
        "answers_by_kind": dict(Counter(k for c, _, _, k in res if c == 200)),
        "full_answers_qps": round(len(full) / over["sent_s"], 1),
        "full_answers_p99_s": round(pct(full, 99), 3),
        "admitted_p50_s": round(pct(ok, 50), 3), "admitted_p99_s": round(pct(ok, 99), 3),
        "admitted_p99_within_budget": pct(ok, 99) <= BUDGET_S,
        "admitted_p99_vs_capacity_p99": round(pct(ok, 99) / pct(cap_lat, 99), 2),
        "rss_before_mib": round(rss_before / 1024, 1), "rss_peak_mib": round(max(over["rss"]) / 1024, 1),
        "rss_idle_after_mib": round(rss_idle / 1024, 1),
        "rss_peak_growth_pct": round(100 * (max(over["rss"]) / rss_before - 1), 1),
        "mean_latency_ok_s": round(statistics.fmean(ok), 3) if ok else None,
    }
    print(json.dumps(report, indent=2))
    report["headline"] = {
        "offered load, x the measured capacity": f"{report['offered_rps'] / report['capacity_qps']:.1f}",
        "shed (503 + Retry-After)": f"{report['shed_fraction']:.0%}, p99 {report['shed_p99_ms']:.0f} ms",
        "admitted p99": f"{report['admitted_p99_s']:.2f} s (within the {BUDGET_S:.0f} s budget: "
                        f"{report['admitted_p99_within_budget']})",
    }
    figures.write(args, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
