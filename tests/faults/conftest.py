"""Fixtures for the fault layer: a Toxiproxy API (the built-in one as a real process, and a real
Toxiproxy too when ``TOXIPROXY_URL`` is set), raw HTTP, and small TCP servers to proxy to."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ragchaos.faults.client import ToxiproxyClient
from ragchaos.faults.discovery import FaultProxyHandle, start_builtin

_BACKENDS = ["builtin"] + (["real"] if os.environ.get("TOXIPROXY_URL") else [])


@pytest.fixture(scope="session", params=_BACKENDS)
def toxiproxy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxyHandle]:
    """The API under test: ours as a separate process, or the real server at TOXIPROXY_URL."""
    if request.param == "real":
        yield FaultProxyHandle(os.environ["TOXIPROXY_URL"].rstrip("/"), "real")
        return
    handle = start_builtin(tmp_path_factory.mktemp("toxiproxy"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def builtin_only(toxiproxy: FaultProxyHandle) -> None:
    if toxiproxy.kind != "builtin":
        pytest.skip("a deliberate difference of the built-in proxy (ragchaos/faults/DIFFERENCES.md)")


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("Content-Type")


class RawApi:
    """Raw HTTP against the API, so status, headers and exact bytes can be checked."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             user_agent: str = "ragchaos-tests") -> Reply:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={"User-Agent": user_agent})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.headers, exc.read())


@pytest.fixture
def api(toxiproxy: FaultProxyHandle) -> RawApi:
    return RawApi(toxiproxy.url)


_names = itertools.count()


@pytest.fixture
def names(toxiproxy: FaultProxyHandle) -> Iterator[Any]:
    """Unique proxy names for one test; every proxy by those names is deleted afterwards."""
    made: list[str] = []

    def new(prefix: str = "t") -> str:
        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        made.append(name)
        return name

    yield new
    client = ToxiproxyClient(toxiproxy.url)
    for name in made:
        with contextlib.suppress(Exception):
            client.delete_proxy(name)


@pytest.fixture
def client(toxiproxy: FaultProxyHandle) -> ToxiproxyClient:
    return ToxiproxyClient(toxiproxy.url)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class TcpServer:
    """A threaded TCP server on loopback: ``echo`` sends back what it reads; ``collect`` keeps it.

    ``received`` holds, per connection, (monotonic time, bytes) of each read, so a test can see
    when data reached the upstream.
    """

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.received: list[list[tuple[float, bytes]]] = []
        self.closed = threading.Event()  # set when a connection's peer closed
        self.conns: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            log: list[tuple[float, bytes]] = []
            self.received.append(log)
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn, log), daemon=True).start()

    def _serve(self, conn: socket.socket, log: list[tuple[float, bytes]]) -> None:
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                log.append((time.monotonic(), data))
                if self.mode == "echo":
                    conn.sendall(data)
        except OSError:
            pass
        finally:
            self.closed.set()
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.sock.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.close()


@pytest.fixture
def echo() -> Iterator[TcpServer]:
    server = TcpServer("echo")
    yield server
    server.close()


@pytest.fixture
def collect() -> Iterator[TcpServer]:
    server = TcpServer("collect")
    yield server
    server.close()


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def recv_until_eof(sock: socket.socket, limit: int = 1 << 24) -> bytes:
    buf = bytearray()
    while len(buf) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return bytes(buf)
