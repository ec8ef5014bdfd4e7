"""Fault proxy overhead: the built-in proxy against a direct connection, in one run.

    .venv/bin/python benchmarks/bench_proxy.py [--rtts 5000] [--mb 512] [--json out.json]
    .venv/bin/python benchmarks/bench_proxy.py --quick --json proxy.json   # make bench: ~10 s

1. Added round-trip latency of a 64-byte echo with no toxics (p50, p99): proxied minus direct,
   the two measured alternately in blocks so machine noise hits both alike.
2. Single-connection throughput (MB/s, 1 MB = 10^6 bytes): one client streams to a sink server,
   direct, through the proxy, and through the proxy with a 5 ms latency toxic (the toxic path).
3. Isolation: 32 connections doing 64-byte echoes through one proxy, with and without a stalled
   connection (bandwidth 0, 4 MB queued) and a 1 s latency connection on another proxy of the
   same server; the fast connections' p50/p99 should barely move.

The proxy runs as its own process (``python -m ragchaos.faults``), as it does in a run.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import figures  # noqa: E402

from ragchaos.faults.client import ToxiproxyClient  # noqa: E402
from ragchaos.faults.discovery import start_builtin  # noqa: E402


class Server:
    """Threaded loopback server: ``echo`` or ``sink`` (counts bytes, signals when ``expect`` reached)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.port = self.sock.getsockname()[1]
        self.expect = 0
        self.got = 0
        self.done = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        try:
            while True:
                n = conn.recv_into(buf)
                if not n:
                    return
                if self.mode == "echo":
                    conn.sendall(view[:n])
                else:
                    self.got += n
                    if self.expect and self.got >= self.expect:
                        self.done.set()
        except OSError:
            return
        finally:
            conn.close()


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def rtts(sock: socket.socket, n: int) -> list[float]:
    msg = b"x" * 64
    out = []
    for _ in range(n):
        t = time.perf_counter()
        sock.sendall(msg)
        got = 0
        while got < 64:
            got += len(sock.recv(64 - got))
        out.append(time.perf_counter() - t)
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def throughput(port: int, sink: Server, total: int) -> float:
    sink.got, sink.expect = 0, total
    sink.done.clear()
    block = os.urandom(1 << 20)
    with connect(port) as s:
        t = time.perf_counter()
        sent = 0
        while sent < total:
            s.sendall(block)
            sent += len(block)
        sink.done.wait(120)
        took = time.perf_counter() - t
    return total / took / 1e6


def isolation(port: int, conns: int, rounds: int) -> list[float]:
    socks = [connect(port) for _ in range(conns)]
    out: list[float] = []
    lock = threading.Lock()

    def work(s: socket.socket) -> None:
        r = rtts(s, rounds)
        with lock:
            out.extend(r)

    threads = [threading.Thread(target=work, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in socks:
        s.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtts", type=int, default=5000)
    ap.add_argument("--mb", type=int, default=512)
    ap.add_argument("--runs", type=int, default=3, help="throughput runs (best of, each direct and proxied)")
    args = figures.parse(ap, {"rtts": 500, "mb": 32, "runs": 1})

    echo, sink = Server("echo"), Server("sink")
    handle = start_builtin()
    try:
        client = ToxiproxyClient(handle.url)
        p_echo = client.create_proxy("bench_echo", echo.addr)
        p_sink = client.create_proxy("bench_sink", sink.addr)

        # 1. latency: alternate blocks of direct and proxied round trips on warm connections
        direct_s, proxied_s = connect(echo.port), connect(p_echo.port)
        rtts(direct_s, 500)
        rtts(proxied_s, 500)
        direct: list[float] = []
        proxied: list[float] = []
        block = 250
        for _ in range(max(1, args.rtts // block)):
            direct += rtts(direct_s, block)
            proxied += rtts(proxied_s, block)
        direct_s.close()
        proxied_s.close()
        lat = {
            "direct_p50_us": pct(direct, 50) * 1e6, "direct_p99_us": pct(direct, 99) * 1e6,
            "proxied_p50_us": pct(proxied, 50) * 1e6, "proxied_p99_us": pct(proxied, 99) * 1e6,
        }
        lat["added_p50_us"] = lat["proxied_p50_us"] - lat["direct_p50_us"]
        lat["added_p99_us"] = lat["proxied_p99_us"] - lat["direct_p99_us"]

        # 2. throughput, best of N each
        total = args.mb * (1 << 20)
        tput_direct = max(throughput(sink.port, sink, total) for _ in range(args.runs))
        tput_proxied = max(throughput(p_sink.port, sink, total) for _ in range(args.runs))
        # the slow path: a latency toxic on the stream (pipelined, so it should not throttle much)
        client.add_toxic(p_sink.name, type="latency", stream="upstream", name="lat", attributes={"latency": 5})
        tput_toxic = max(throughput(p_sink.port, sink, total) for _ in range(args.runs))
        client.remove_toxic(p_sink.name, "lat")

        # 3. isolation: fast echoes with and without slow neighbours on another proxy
        base = isolation(p_echo.port, 32, 200)
        p_slow = client.create_proxy("bench_slow", echo.addr)
        client.add_toxic(p_slow.name, type="bandwidth", name="stall", attributes={"rate": 0})
        stalled = connect(p_slow.port)
        stalled.setblocking(False)
        queued = 0
        try:
            while queued < (4 << 20):
                queued += stalled.send(b"z" * 65536)
        except BlockingIOError:
            pass
        p_lag = client.create_proxy("bench_lag", echo.addr)
        client.add_toxic(p_lag.name, type="latency", name="lag", attributes={"latency": 1000})
        lagging = connect(p_lag.port)
        lag_thread = threading.Thread(target=rtts, args=(lagging, 1), daemon=True)
        lag_thread.start()
        loaded = isolation(p_echo.port, 32, 200)
        lag_thread.join(10)
        stalled.close()
        lagging.close()
        iso = {
            "fast_p50_us": pct(base, 50) * 1e6, "fast_p99_us": pct(base, 99) * 1e6,
            "with_slow_p50_us": pct(loaded, 50) * 1e6, "with_slow_p99_us": pct(loaded, 99) * 1e6,
            "stalled_bytes_queued": queued,
        }
    finally:
        handle.stop()

    result = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "latency": lat,
        "throughput_mb_s": {"direct": tput_direct, "proxied": tput_proxied, "ratio": tput_proxied / tput_direct,
                            "proxied_with_5ms_latency_toxic": tput_toxic},
        "isolation": iso,
    }
    print(f"round trip, 64 B echo, {len(direct)} each: direct p50 {lat['direct_p50_us']:.0f} µs "
          f"p99 {lat['direct_p99_us']:.0f} µs; proxied p50 {lat['proxied_p50_us']:.0f} µs "
          f"p99 {lat['proxied_p99_us']:.0f} µs")
    print(f"added by the proxy: p50 {lat['added_p50_us']:.0f} µs, p99 {lat['added_p99_us']:.0f} µs "
          f"(target p50 <= 200 µs)")
    print(f"throughput, one connection, {args.mb} MiB, best of {args.runs}: direct {tput_direct:.0f} MB/s, "
          f"proxied {tput_proxied:.0f} MB/s (ratio {tput_proxied / tput_direct:.2f}; target >= 350 MB/s)")
    print(f"throughput with a 5 ms latency toxic upstream: {tput_toxic:.0f} MB/s")
    print(f"isolation, 32 conns x 200 echoes: p50 {iso['fast_p50_us']:.0f} -> {iso['with_slow_p50_us']:.0f} µs, "
          f"p99 {iso['fast_p99_us']:.0f} -> {iso['with_slow_p99_us']:.0f} µs with a stalled "
          f"({queued >> 20} MiB queued) and a 1 s-latency connection on other proxies")
    print(f"median direct rtt {statistics.median(direct) * 1e6:.0f} µs")
    result["headline"] = {
        "p50 round trip added by the proxy": f"{lat['added_p50_us']:.0f} µs",
        "one connection through the proxy": f"{tput_proxied:.0f} MB/s ({tput_proxied / tput_direct:.2f} of direct)",
    }
    figures.write(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
