"""In an open-model run, a 1 s stall of the server shows in the corrected (response time) p99
and not in the uncorrected (service time) one.

A real HTTP server on loopback stalls once for 1 s; a wrk2-style open-model loop sends on a
fixed schedule over one connection and records intended vs actual send. While the server
stalls, the schedule runs on: the requests due in that second are sent late, so their response
time (from the intended send) includes the wait while their service time does not.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ragchaos.reports.recorder import Recorder, classify_status

STALL_S = 1.0
INTERVAL_S = 0.01
REQUESTS = 400  # the one stalled request is 0.25% of them: above p99 for service time


class StallOnce(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without TCP_NODELAY, Nagle + delayed ACK add ~40 ms each
    disable_nagle_algorithm = True
    stalled = threading.Event()
    stall_at = 100

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        n = int(self.path.rsplit("/", 1)[-1])
        if n == self.stall_at and not self.stalled.is_set():
            self.stalled.set()
            time.sleep(STALL_S)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), StallOnce)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=5)


@pytest.mark.slow
def test_stall_shows_in_corrected_p99_only(server: int) -> None:
    rec = Recorder()
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    t0 = time.time()
    try:
        for i in range(REQUESTS):
            intended = t0 + i * INTERVAL_S
            delay = intended - time.time()
            if delay > 0:
                time.sleep(delay)  # on schedule: wait; behind schedule: send at once, never skip
            actual = time.time()
            conn.request("GET", f"/r/{i}")
            resp = conn.getresponse()
            resp.read()
            rec.record("app", "query", "steady", intended_start=intended, actual_start=actual, end=time.time(),
                       outcome=classify_status(resp.status))
    finally:
        conn.close()
    assert StallOnce.stalled.is_set()
    lat = rec.client_stats("app", "steady").latency
    assert lat.response_time.count == lat.service_time.count == REQUESTS
    # ~100 requests were due during the stall: the corrected p99 sits near the full second
    assert lat.response_time.p99_us >= 0.7 * STALL_S * 1e6
    # the uncorrected view sees one slow request of 400, which p99 does not reach
    assert lat.service_time.p99_us < 0.3 * STALL_S * 1e6
    assert lat.service_time.max_us >= STALL_S * 1e6  # the stall itself is there, at the max


def test_same_effect_with_synthetic_times() -> None:
    """The arithmetic alone, without a network: 100 requests queued behind a 1 s stall."""
    rec = Recorder()
    clock = 0.0
    for i in range(400):
        intended = i * INTERVAL_S
        actual = max(intended, clock)
        service = STALL_S if i == 100 else 0.002
        clock = actual + service
        rec.record("app", "query", "steady", intended_start=intended, actual_start=actual, end=clock, outcome="ok")
    lat = rec.client_stats("app", "steady").latency
    assert lat.response_time.p99_us >= 900_000
    assert lat.service_time.p99_us <= 2_100
