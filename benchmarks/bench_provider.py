"""Provider throughput: embeddings requests per second on one server process, latency model off.

    .venv/bin/python benchmarks/bench_provider.py [--duration 10] [--clients 2] [--connections 32]
    .venv/bin/python benchmarks/bench_provider.py --quick --json provider.json   # make bench: ~15 s

Starts ``python -m ragchaos.provider`` (one process, one event loop: one core at most) with the latency
model off and limits out of reach, then drives POST /v1/embeddings from ``--clients`` load
processes, each an asyncio loop over ``--connections`` keep-alive connections speaking raw
HTTP/1.1 (an SDK client would be the bottleneck long before the server). Every request carries
distinct texts drawn from a seeded vocabulary, so the provider's vector cache does not flatter
the figure. Reports requests/s, the server's CPU use over the same window (from /proc), and
requests per CPU-second of the server, which is the "per core" figure when the clients share
the machine's cores with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import figures

from ragchaos.core.ports import free_port
from ragchaos.core.procs import ManagedProcess, python_module_argv

VOCAB = ["cache", "retry", "backoff", "jitter", "breaker", "tenant", "quota", "latency", "token", "embedding", "vector", "chunk", "index", "query", "answer", "source", "document", "provider", "timeout", "replica", "queue", "batch", "stream", "spike", "flood", "error", "budget", "limit", "window", "bucket", "refill", "shard", "region", "storage", "network", "socket", "proxy", "fault", "storm", "monday", "morning", "release", "deploy", "rollback", "canary", "metric", "histogram", "percentile", "tail", "throughput", "worker", "process", "thread", "event", "loop"]

CONFIG = {"latency": {"enabled": False}, "request_log_size": 1000,
          "keys": {"bench": {"embeddings": {"rpm": 1_000_000_000, "tpm": 1_000_000_000_000}}}}


def _texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(8, 16))) + f" #{rng.randrange(10**9)}"
            for _ in range(n)]


def _requests(seed: int, inputs: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        texts = _texts(rng, inputs)
        body = json.dumps({"model": "text-embedding-3-small", "input": texts[0] if inputs == 1 else texts,
                           "encoding_format": "base64"}).encode()
        head = (f"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        out.append(head + body)
    return out


def _client(port: int, seed: int, inputs: int, connections: int, start_at: float, stop_at: float,
            queue: mp.Queue) -> None:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    reqs = _requests(seed, inputs, 4000 if inputs == 1 else 300)

    async def conn(i: int, counts: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = i
        while True:
            now = time.time()
            if now >= stop_at:
                break
            writer.write(reqs[n % len(reqs)])
            n += connections
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts[2] += 1  # every answer, for the cross-check with the provider's own count
            if time.time() >= start_at:  # only what completes inside the window counts
                counts[0 if status == 200 else 1] += 1
        writer.close()

    async def main() -> list[int]:
        counts = [0, 0, 0]  # ok in the window, errors in the window, every answer
        await asyncio.gather(*(conn(i, counts) for i in range(connections)))
        return counts

    queue.put(runner(main()))


def _provider_count(port: int) -> int:
    """Embeddings requests the provider itself counted for the bench key (``GET /_stats``)."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as resp:
        stats = json.loads(resp.read())
    return int(stats["keys"].get("bench", {}).get("embeddings", {}).get("requests", 0))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port: int, pid: int, inputs: int, clients: int, connections: int, warmup: float,
            duration: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 1.5 + warmup  # time for the clients to start and build their requests
    stop_at = start_at + duration
    procs = [ctx.Process(target=_client, args=(port, 1000 * inputs + c, inputs, connections, start_at, stop_at, queue))
             for c in range(clients)]
    for p in procs:
        p.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu0, t0 = _cpu_seconds(pid), time.time()
    time.sleep(max(0.0, stop_at - time.time()))
    cpu1, t1 = _cpu_seconds(pid), time.time()
    results = [queue.get(timeout=duration + 60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    cpu = cpu1 - cpu0
    return {"inputs": inputs, "answers_seen": sum(r[2] for r in results), "requests_per_s": ok / duration, "errors": errors,
            "server_cpu_share": cpu / (t1 - t0), "requests_per_cpu_s": ok / cpu if cpu > 0 else float("nan")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=2, help="load-generator processes")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections per client")
    parser.add_argument("--inputs", type=int, nargs="+", default=[1, 64], help="inputs per request, one case each")
    args = figures.parse(parser, {"duration": 2.0, "warmup": 0.5}, argv)

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.json"
        config.write_text(json.dumps(CONFIG))
        port = free_port()
        server = ManagedProcess("provider", python_module_argv("ragchaos.provider", "--port", str(port), "--config", str(config)),
                                health_url=f"http://127.0.0.1:{port}/healthz", log_path=Path(tmp) / "provider.log")
        server.start()
        try:
            server.wait_healthy(30)
            assert server.pid is not None
            rows = [measure(port, server.pid, n, args.clients, args.connections, args.warmup, args.duration)
                    for n in args.inputs]
            counted = _provider_count(port)
        finally:
            server.stop()
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"{args.clients} clients x {args.connections} connections, {args.duration:.0f} s per case")
    print("| inputs/request | requests/s | server CPU (cores) | requests per server CPU-second | errors |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['inputs']} | {r['requests_per_s']:,.0f} | {r['server_cpu_share']:.2f} | "
              f"{r['requests_per_cpu_s']:,.0f} | {r['errors']} |")
    print(json.dumps(rows))
    seen = sum(r["answers_seen"] for r in rows)
    print(f"cross-check: the clients read {seen:,} answers, the provider's /_stats counts {counted:,} requests"
          f" ({'the same' if seen == counted else 'they differ'})")
    headline = {f"{r['inputs']}-input requests per server CPU-second": f"{r['requests_per_cpu_s']:,.0f}" for r in rows}
    figures.write(args, {"cases": rows, "clients": args.clients, "connections": args.connections,
                         "duration_s": args.duration, "headline": headline,
                         "cross_check": {"answers_read_by_clients": seen, "requests_counted_by_provider": counted,
                                         "agree": seen == counted}})
    if seen != counted:
        print("bench_provider: the clients and the provider disagree on the request count", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
