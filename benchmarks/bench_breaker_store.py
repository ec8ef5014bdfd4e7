"""What fleet scope costs a circuit breaker per call: one admit + record, in-process vs on Redis.

In one run, on one event loop, against a private ``redis-server`` on loopback (or
``--redis-url``): ``CircuitBreaker.acquire()`` then ``settle()`` (what ``BreakerGuard`` does
around every dependency call) with the state in this replica (``RAGCHAOS_BREAKER_SCOPE=replica``,
the default) and in Redis (``fleet``), for a call that succeeds (closed, no failures counted:
one round trip, the admit) and one that fails (two: the admit and the record; the threshold is
set out of reach so the breaker stays closed), and with Redis down (refused port: the breaker
decides locally after one failed attempt per fallback window). Rounds alternate the variants
so drift on a shared machine hits all of them; figures are medians of the rounds in µs per
admit + record (sequential, one caller: latency, not capacity).

    .venv/bin/python benchmarks/bench_breaker_store.py --ops 5000 --rounds 5
    .venv/bin/python benchmarks/bench_breaker_store.py --quick --json breaker.json   # make bench: ~5 s
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import figures

from ragchaos.reference_app.breaker import BreakerConfig, CircuitBreaker, Outcome
from ragchaos.reference_app.shared.breaker import RedisBreakerState
from ragchaos.reference_app.shared.namespace import Namespace, connect
from ragchaos.stack.redis_server import acquire_redis

Cycle = Callable[[], Awaitable[None]]
CONFIG = BreakerConfig(failure_threshold=10**9, reset_timeout_s=2.0)  # stays closed: every call measured alike


def cycle(breaker: CircuitBreaker, outcome: Outcome) -> Cycle:
    async def once() -> None:
        await breaker.settle(await breaker.acquire(), outcome)

    return once


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def timed(op: Cycle, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        await op()
    return (time.perf_counter() - t0) / n * 1e6


async def main_async(url: str, ops: int, rounds: int) -> dict[str, float]:
    ns = connect(url, "ragchaos-bench-breaker:")
    down: Namespace = connect(f"redis://127.0.0.1:{_closed_port()}/0", "ragchaos-bench-breaker:")
    variants: dict[str, Cycle] = {
        "replica, success": cycle(CircuitBreaker("chat", CONFIG), "success"),
        "replica, failure": cycle(CircuitBreaker("chat", CONFIG), "failure"),
        "fleet, success": cycle(CircuitBreaker("chat", CONFIG, shared=RedisBreakerState(ns, "ok")), "success"),
        "fleet, failure": cycle(CircuitBreaker("chat", CONFIG, shared=RedisBreakerState(ns, "bad")), "failure"),
        "fleet, Redis down": cycle(CircuitBreaker("chat", CONFIG, shared=RedisBreakerState(down, "x")), "success"),
    }
    try:
        for op in variants.values():
            await timed(op, 50)  # warm-up: script load, connection
        runs: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            for name, op in variants.items():
                runs[name].append(await timed(op, ops))
    finally:
        keys = [k async for k in ns.client.scan_iter(match="ragchaos-bench-breaker:*")]
        if keys:
            await ns.client.delete(*keys)
        await ns.client.aclose()
        await down.client.aclose()
    out = {name: round(statistics.median(v), 1) for name, v in runs.items()}
    print(f"{'admit + record':24} {'µs':>8} {'x replica':>10}")
    for name, us in out.items():
        base = out["replica, " + ("failure" if "failure" in name else "success")]
        print(f"{name:24} {us:8.1f} {us / base:10.1f}")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ops", type=int, default=5000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--redis-url", default=None, help="default: a private redis-server on a free port")
    args = figures.parse(p, {"ops": 500, "rounds": 1})
    if args.redis_url:
        table = asyncio.run(main_async(args.redis_url, args.ops, args.rounds))
    else:
        with tempfile.TemporaryDirectory() as logs, acquire_redis(Path(logs), shared=None) as redis:
            table = asyncio.run(main_async(redis.url, args.ops, args.rounds))
    extra_ok = table["fleet, success"] - table["replica, success"]
    extra_bad = table["fleet, failure"] - table["replica, failure"]
    figures.write(args, {"us_per_admit_record": table, "ops": args.ops, "rounds": args.rounds, "headline": {
        "breaker admit+record, fleet scope extra (success / failure)": f"+{extra_ok:.0f} µs / +{extra_bad:.0f} µs",
        "breaker admit+record, replica scope": f"{table['replica, success']:.1f} µs"}})


if __name__ == "__main__":
    main()
