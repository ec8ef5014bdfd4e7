"""What ragchaos's recording costs a Locust user, and what one histogram weighs.

In one run, against a trivial HTTP endpoint on loopback (its own process, asyncio, a fixed
200 answer): requests/s of a bare Locust ``FastHttpUser`` and of the same user recording every
request through ``reports.recorder.Recorder`` (classify + record: response/service-time HDR
histograms and the 1 s timeline). Rounds alternate bare / recording so drift on a shared
machine hits both; the ratio is of the medians. Then the memory of one histogram (3 and 2
significant figures, 1 us..10 min), its encoded size, and the recorder's cost per call.

    .venv/bin/python benchmarks/bench_recording.py --duration 8 --rounds 3 --users 8
    .venv/bin/python benchmarks/bench_recording.py --quick --json recording.json   # make bench: ~15 s
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import time
import tracemalloc

import figures


def serve(port: int) -> None:
    """The endpoint: keep-alive HTTP/1.1, one fixed response, as cheap as Python allows."""
    body = b"ok"
    response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n" + body

    class Proto(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.t = transport
            self.buf = b""

        def data_received(self, data: bytes) -> None:
            self.buf += data
            while b"\r\n\r\n" in self.buf:  # GETs without bodies
                _, self.buf = self.buf.split(b"\r\n\r\n", 1)
                self.t.write(response)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def bench_locust(port: int, duration: float, rounds: int, users: int, warmup: float) -> dict:
    import gevent
    from locust import FastHttpUser, constant, task
    from locust.env import Environment

    from ragchaos.reports.recorder import Recorder, classify_status

    host = f"http://127.0.0.1:{port}"
    recorder = Recorder()

    class Bare(FastHttpUser):
        wait_time = constant(0)

        @task
        def hit(self) -> None:
            self.client.get("/")

    class Recording(FastHttpUser):
        wait_time = constant(0)

        @task
        def hit(self) -> None:
            actual = time.time()
            resp = self.client.get("/")
            end = time.time()
            recorder.record("bench", "query", "steady", intended_start=actual, actual_start=actual, end=end,
                            outcome=classify_status(resp.status_code, resp.headers, None))

    def one(user_cls: type) -> tuple[float, float]:
        user_cls.host = host
        env = Environment(user_classes=[user_cls])
        runner = env.create_local_runner()
        runner.start(users, spawn_rate=users * 10)
        gevent.sleep(warmup)
        start_n, start_t, start_cpu = env.stats.total.num_requests, time.perf_counter(), time.process_time()
        gevent.sleep(duration)
        n, t = env.stats.total.num_requests - start_n, time.perf_counter() - start_t
        cpu = time.process_time() - start_cpu  # this process is Locust alone: the server is another one
        runner.quit()
        runner.greenlet.join(timeout=10)
        if env.stats.total.num_failures:
            raise RuntimeError(f"{env.stats.total.num_failures} failed requests against the endpoint")
        return n / t, n / cpu

    bare, rec, bare_cpu, rec_cpu = [], [], [], []
    for i in range(rounds):
        # alternate which goes first, so a drifting machine does not favour one side
        order = [(Recording, rec, rec_cpu), (Bare, bare, bare_cpu)] if i % 2 else \
            [(Bare, bare, bare_cpu), (Recording, rec, rec_cpu)]
        for cls, wall, per_cpu in order:
            r, c = one(cls)
            wall.append(r)
            per_cpu.append(c)
    recorded = recorder.client_stats("bench", "steady").requests
    return {
        "bare_rps": [round(x) for x in bare],
        "recording_rps": [round(x) for x in rec],
        "bare_per_cpu_s": [round(x) for x in bare_cpu],
        "recording_per_cpu_s": [round(x) for x in rec_cpu],
        "cpu_ratio": round(statistics.median(rec_cpu) / statistics.median(bare_cpu), 3),
        "bare_median": round(statistics.median(bare)),
        "recording_median": round(statistics.median(rec)),
        "ratio": round(statistics.median(rec) / statistics.median(bare), 3),
        "pair_ratios": [round(r / b, 3) for r, b in zip(rec, bare, strict=True)],
        "recorded_requests": recorded,
    }


def bench_memory() -> dict:
    from ragchaos.measure.hdr import Histogram
    from ragchaos.reports.recorder import Recorder

    out: dict = {}
    for sf in (3, 2):
        tracemalloc.start()
        h = Histogram(significant_figures=sf)
        size, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rng = random.Random(1)
        for _ in range(100_000):
            h.record_us(rng.lognormvariate(11, 1.2))
        out[f"sf{sf}"] = {"counts_bytes": h.memory_bytes, "traced_bytes": size, "encoded_bytes_100k": len(h.encode())}
    # a 10-minute, 2-app, 2-kind, 3-phase run at 50 requests/s per app and kind, held in one
    # recorder (what the master holds at the end of a run)
    tracemalloc.start()
    run = Recorder()
    rng = random.Random(2)
    for i in range(600 * 50):
        t0 = 1_000.0 + i / 50
        phase = ("steady", "fault", "recovery")[min(2, i // (200 * 50))]
        for app in ("naive", "reference"):
            for kind in ("query", "ingest"):
                rt = rng.lognormvariate(-1.5, 0.6)
                run.record(app, kind, phase, intended_start=t0, actual_start=t0, end=t0 + rt,
                           outcome="ok" if rng.random() < 0.95 else "5xx")
    run.flush()
    gc.collect()  # hdrh's histogram and encoder reference each other: freed by the cycle collector
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["ten_minute_run"] = {"requests": 600 * 50 * 4, "recorder_bytes": held,
                             "timeline_seconds": len(run.intervals("naive", 1_000.0)) * 4}
    rec = Recorder()
    n = 100_000
    t = time.perf_counter()
    for i in range(n):
        rec.record("a", "query", "steady", intended_start=1000.0 + i * 1e-4, actual_start=1000.0 + i * 1e-4,
                   end=1000.05 + i * 1e-4, outcome="ok")
    out["record_us_per_call"] = round((time.perf_counter() - t) / n * 1e6, 2)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per round and user class")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--memory-only", action="store_true", help="skip the Locust part")
    args = figures.parse(parser, {"duration": 1.5, "warmup": 0.5, "rounds": 1, "users": 4})
    if args.serve:
        serve(args.serve)
        return 0
    if not (0 < args.duration <= 60 and 1 <= args.rounds <= 10 and 1 <= args.users <= 200):
        parser.error("bounded load only: --duration (0, 60], --rounds 1..10, --users 1..200")

    if args.memory_only:
        memory = {"memory": bench_memory()}
        print(json.dumps(memory, indent=1))
        figures.write(args, memory)
        return 0

    from ragchaos.core.ports import free_port, wait_for_port
    from ragchaos.core.procs import ManagedProcess

    port = free_port()
    server = ManagedProcess("endpoint", [sys.executable, __file__, "--serve", str(port)],
                            health_check=lambda: wait_for_port("127.0.0.1", port, 0.2))
    server.start().wait_healthy(timeout=20)
    try:
        result = {"locust": bench_locust(port, args.duration, args.rounds, args.users, args.warmup)}
    finally:
        server.stop()
    result["memory"] = bench_memory()
    print(json.dumps(result, indent=1))
    lo = result["locust"]
    print(f"\nbare FastHttpUser: {lo['bare_median']:,} req/s; recording: {lo['recording_median']:,} req/s; "
          f"ratio {lo['ratio']:.3f} (recording costs {(1 - lo['ratio']) * 100:.1f}% of the rate)")
    print(f"per Locust CPU-second: bare {statistics.median(lo['bare_per_cpu_s']):,.0f}, recording "
          f"{statistics.median(lo['recording_per_cpu_s']):,.0f}; ratio {lo['cpu_ratio']:.3f}")
    result["headline"] = {"requests/s of a recording Locust user, x a bare one": f"{lo['ratio']:.3f}",
                          "recorder cost per request": f"{result['memory']['record_us_per_call']} µs"}
    figures.write(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
