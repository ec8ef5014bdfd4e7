"""Slow clients (a byte every so often) cannot hold the apps' connections: ragchaos/kit/slowclients.py.

Both apps run as real processes under their own ``serve`` command. A client trickling a request
is answered 408 and closed once its read time is up; past the cap on connections part-way
through a request, the longest-reading ones are closed to make room; and meanwhile an ordinary
client is served. Each wait is bounded; with the guard switched off, no slow client is ever
closed and the waits fail.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.apps.helpers import AppHandle

pytestmark = pytest.mark.slow

HEAD = b"POST /v1/query HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def _open(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(HEAD)
    sock.setblocking(False)
    return sock


def _closed_by_server(sock: socket.socket) -> bytes | None:
    """What the server sent before closing, or None while it keeps the connection open."""
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        return None
    except OSError:
        return b""
    if not data:
        return b""
    rest = data
    while True:  # the 408 and then the close
        try:
            more = sock.recv(65536)
        except BlockingIOError:
            return rest or None
        except OSError:
            return rest
        if not more:
            return rest
        rest += more


def _trickle_until_closed(socks: list[socket.socket], limit_s: float, every_s: float,
                          also: Callable[[], None] = lambda: None) -> dict[int, bytes]:
    """Send one header byte to every open socket every ``every_s``; return what each got when closed."""
    closed: dict[int, bytes] = {}
    deadline = time.monotonic() + limit_s
    while len(closed) < len(socks) and time.monotonic() < deadline:
        for i, sock in enumerate(socks):
            if i in closed:
                continue
            got = _closed_by_server(sock)
            if got is not None:
                closed[i] = got
                continue
            try:
                sock.send(b"X")  # one byte of a header line that never ends
            except OSError:
                closed[i] = b""
        also()
        time.sleep(every_s)
    return closed


def _served(app: AppHandle) -> None:
    assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200
    r = httpx.post(f"{app.url}/v1/query", json={"tenant": "t", "question": "q", "top_k": "5"}, timeout=10)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("kind", ["naive", "reference"])
def test_a_trickling_client_gets_408_and_is_closed(start_app, kind: str) -> None:
    app = start_app(kind, env={"RAGCHAOS_REQUEST_READ_TIMEOUT_S": "2"})
    socks = [_open(app.url) for _ in range(30)]
    try:
        closed = _trickle_until_closed(socks, limit_s=40, every_s=0.5, also=lambda: _served(app))
    finally:
        for s in socks:
            s.close()
    assert len(closed) == len(socks), f"{len(socks) - len(closed)} slow clients still held a connection after 40 s"
    assert all(b" 408 " in got and b"request_timeout" in got for got in closed.values()), set(closed.values())
    _served(app)


@pytest.mark.parametrize("kind", ["naive", "reference"])
def test_past_the_cap_the_longest_reading_are_closed(start_app, kind: str) -> None:
    # a read time far beyond the test: only the cap can close anything here
    app = start_app(kind, env={"RAGCHAOS_REQUEST_READ_TIMEOUT_S": "600", "RAGCHAOS_MAX_READING_CONNECTIONS": "20"})
    first = [_open(app.url) for _ in range(20)]
    later: list[socket.socket] = []
    try:
        time.sleep(1.5)  # older than the guard's 1 s grace: now they may be closed to make room

        def newcomer() -> None:
            later.append(_open(app.url))
            _served(app)

        closed = _trickle_until_closed(first, limit_s=40, every_s=0.3, also=newcomer)
    finally:
        for s in first + later:
            s.close()
    assert len(closed) == len(first), f"{len(first) - len(closed)} of the oldest slow clients kept their connection"
    assert len(later) <= 40 * 4
