"""What timing every call costs the fault proxy: the same HTTP traffic through two built-in proxy
processes, one timing calls (the default) and one started with ``--no-call-timing``.

    .venv/bin/python benchmarks/bench_call_timing.py [--calls 4000] [--mb 64] [--quick] [--json out.json]

1. Keep-alive request/response round trips (a 300-byte POST, a 200-byte answer), the two proxies
   measured alternately in blocks so machine noise hits both alike: p50 and p99 per call, and the
   proxy process's CPU per call (from /proc).
2. One large answer (Content-Length and chunked, 64 KiB chunks): MB/s through each proxy.
3. Cross-check: the timing proxy recorded exactly one call per request sent (``GET /ragchaos/calls``).

The upstream is a minimal asyncio HTTP/1.1 responder in a process of its own, so the proxy's
own cost is what differs.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import figures  # noqa: E402

from ragchaos.core.ports import LOOPBACK, free_port  # noqa: E402
from ragchaos.core.procs import ManagedProcess, python_module_argv  # noqa: E402
from ragchaos.faults.calltiming import CallReader  # noqa: E402
from ragchaos.faults.client import ToxiproxyClient  # noqa: E402

SMALL = b'{"answer": "' + b"x" * 180 + b'"}'
BIG_CHUNK = b"y" * 65536


async def _serve(port: int, big_mb: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                path = head.split(b" ")[1]
                if path == b"/big":
                    n = big_mb * 16  # 64 KiB chunks
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (n * len(BIG_CHUNK)))
                    for _ in range(n):
                        writer.write(BIG_CHUNK)
                        await writer.drain()
                elif path == b"/chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for _ in range(big_mb * 16):
                        writer.write(b"%x\r\n" % len(BIG_CHUNK) + BIG_CHUNK + b"\r\n")
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                                 % len(SMALL) + SMALL)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, LOOPBACK, port)
    async with server:
        await server.serve_forever()


def _upstream(port: int, big_mb: int) -> None:
    asyncio.run(_serve(port, big_mb))


def _proxy_process(timing: bool, log_dir: Path) -> tuple[ManagedProcess, str]:
    port = free_port()
    args = ["serve", "--host", LOOPBACK, "--port", str(port)] + ([] if timing else ["--no-call-timing"])
    proc = ManagedProcess(f"proxy-{'timed' if timing else 'untimed'}", python_module_argv("ragchaos.faults", *args),
                          health_url=f"http://{LOOPBACK}:{port}/version",
                          log_path=log_dir / f"proxy-{'timed' if timing else 'untimed'}.log")
    proc.start().wait_healthy(30)
    return proc, f"http://{LOOPBACK}:{port}"


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _round_trips(host: str, port: int, n: int) -> list[float]:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    body = json.dumps({"model": "m", "input": ["q" * 240]})
    out = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("POST", "/v1/embeddings", body=body, headers={"Content-Type": "application/json",
                                                                     "x-stainless-retry-count": "0"})
        conn.getresponse().read()
        out.append(time.perf_counter() - t)
    conn.close()
    return out


def _throughput(host: str, port: int, path: str, mb: int) -> float:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    t = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    got = 0
    while chunk := resp.read(1 << 20):
        got += len(chunk)
    conn.close()
    return got / 1e6 / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=4000, help="round trips per proxy")
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--mb", type=int, default=64, help="size of the large answer (MiB)")
    args = figures.parse(ap, {"calls": 800, "blocks": 4, "mb": 8})
    log_dir = Path("/tmp/bench_call_timing")
    log_dir.mkdir(exist_ok=True)
    up_port = free_port()
    upstream = multiprocessing.Process(target=_upstream, args=(up_port, args.mb), daemon=True)
    upstream.start()
    procs = {}
    try:
        for timing in (True, False):
            procs[timing] = _proxy_process(timing, log_dir)
        listen = {}
        for timing, (_, url) in procs.items():
            p = ToxiproxyClient(url).create_proxy("bench", f"{LOOPBACK}:{up_port}", listen=f"{LOOPBACK}:0")
            listen[timing] = (p.host, p.port)
        reader = CallReader(procs[True][1])
        reader.skip_to_now()
        for timing in (True, False):  # warm both
            _round_trips(*listen[timing], 200)
        reader.skip_to_now()
        rtts: dict[bool, list[float]] = {True: [], False: []}
        cpu: dict[bool, float] = {True: 0.0, False: 0.0}
        per_block = args.calls // args.blocks
        for _ in range(args.blocks):
            for timing in (True, False):
                pid = procs[timing][0].pid
                assert pid is not None
                c0 = _cpu_s(pid)
                rtts[timing] += _round_trips(*listen[timing], per_block)
                cpu[timing] += _cpu_s(pid) - c0
        time.sleep(0.3)
        recorded = [r for r in reader.fetch() if r["kind"] == "http"]
        sent = per_block * args.blocks
        mbs = {t: {"content-length": _throughput(*listen[t], "/big", args.mb),
                   "chunked": _throughput(*listen[t], "/chunked", args.mb)} for t in (True, False)}
        report = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "python": platform.python_version(),
            "calls_per_proxy": sent,
            "p50_us": {str(t): round(statistics.median(rtts[t]) * 1e6, 1) for t in rtts},
            "p99_us": {str(t): round(statistics.quantiles(rtts[t], n=100)[98] * 1e6, 1) for t in rtts},
            "proxy_cpu_us_per_call": {str(t): round(cpu[t] / sent * 1e6, 1) for t in cpu},
            "mb_per_s": {str(t): {k: round(v, 1) for k, v in m.items()} for t, m in mbs.items()},
            "recorded_calls": len(recorded),
            "recorded_equals_sent": len(recorded) == sent,
        }
    finally:
        for proc, _ in procs.values():
            proc.stop()
        upstream.terminate()
        upstream.join(5)
    report["headline"] = {
        "added p50 per call": f"{(report['p50_us']['True'] - report['p50_us']['False']):.0f} us",
        "added proxy CPU per call": f"{(report['proxy_cpu_us_per_call']['True'] - report['proxy_cpu_us_per_call']['False']):.0f} us",
        "calls recorded / sent": f"{report['recorded_calls']} / {report['calls_per_proxy']}",
    }
    print(json.dumps(report, indent=1))
    figures.write(args, report)
    return 0 if report["recorded_equals_sent"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
