"""An idle keep-alive connection outlives a usual client's idle expiry (kit/settings.py keep_alive_s).

With uvicorn's default (5 s, equal to httpx's pool expiry) the server closed idle connections at
the moment a client could reuse them: a reset instead of an answer. Both apps, as real processes:
a request, 6 s of silence on the same socket, a second request answered on it; with the setting
at 2 s the server has closed the socket by then.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest

from tests.apps.helpers import AppHandle

pytestmark = pytest.mark.slow

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def _answer(sock: socket.socket) -> bytes:
    """One whole response (head and body), or b"" when the server closed the connection first."""
    sock.sendall(REQUEST)
    data = b""
    while True:
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            if len(body) >= length:
                return data
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk


def _idle_then_ask(url: str, idle_s: float) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        assert _answer(sock).startswith(b"HTTP/1.1 200")
        time.sleep(idle_s)
        try:
            return _answer(sock)
        except (BrokenPipeError, ConnectionResetError):
            return b""


@pytest.mark.parametrize("kind", ["naive", "reference"])
def test_an_idle_connection_is_kept_past_a_clients_expiry(start_app: Callable[..., AppHandle], kind: str) -> None:
    app = start_app(kind)
    assert _idle_then_ask(app.url, 6.0).startswith(b"HTTP/1.1 200")


def test_with_a_short_keep_alive_the_server_closes_first(start_app: Callable[..., AppHandle]) -> None:
    app = start_app("reference", env={"RAGCHAOS_KEEP_ALIVE_S": "2"})
    assert _idle_then_ask(app.url, 6.0) == b""
