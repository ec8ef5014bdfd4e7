"""What each proxy carried, call by call: the built-in proxy's per-dependency timing.

Every connection through a proxy gets a ``ConnectionTap``. It sees the bytes the client sent
(as the proxy reads them, before any upstream toxic) and the bytes the client was sent (as the
proxy writes them, after every downstream toxic), so a call's time is what the client saw:
from the first byte of its request to the last byte of its response, faults included.

- **HTTP/1.1** (a connection whose first bytes are a request line): one record per request,
  ``kind: "http"``, with its method, path, endpoint name (``faults.endpoints``), status, the
  openai SDK's ``x-stainless-retry-count`` when sent (so SDK retries show as attempts with
  ``retry > 0``), time to first response byte and duration. Keep-alive and pipelined requests
  are matched to responses in order; chunked and streamed (SSE) responses end at their last
  chunk; a request whose connection closed before its response ended is recorded with
  ``outcome: "no_response"`` (nothing came back) or ``"incomplete"`` (part of it did).
- **Anything else** (Redis, Postgres, TLS, HTTP/2): one record per exchange, ``kind: "tcp"``,
  ``endpoint: "exchange"``: from the first client byte of a turn to the last server byte before
  the client spoke again (exact for request/response protocols without pipelining).
- Every connection: ``kind: "open"`` when it is accepted and dialled through, ``kind: "close"``
  at its end with its duration, bytes each way and calls; a connection whose upstream refused
  the dial is one ``kind: "refused"``.

``CallLog`` keeps the records in order (each with a ``seq``) in a bounded ring and counts per
proxy; readers page through it with a cursor (``GET /ragchaos/calls?after=SEQ``), so several
readers (a run, a live view) never take records from one another.
"""

from __future__ import annotations

import itertools
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ragchaos.faults.endpoints import endpoint_of
from ragchaos.faults.server.httpwatch import (
    OPAQUE,
    UNTIL_CLOSE,
    Framing,
    Head,
    MessageStream,
    body_length,
    looks_like_http,
)

__all__ = ["CallLog", "ConnectionTap", "ProxyCounters"]

CAPACITY = 200_000  # records kept; a reader that falls further behind is told how many it lost
_RETRY_HEADER = "x-stainless-retry-count"
_conn_ids = itertools.count(1)


@dataclass
class ProxyCounters:
    """Since the server started, per proxy: what a fault-reach check counts."""

    connections: int = 0  # accepted and dialled through
    open: int = 0
    refused: int = 0  # accepted, but the upstream refused the dial
    calls: int = 0  # http calls and tcp exchanges recorded
    bytes_up: int = 0
    bytes_down: int = 0
    tap_errors: int = 0  # connections whose timing stopped on an error in the tap (the data went on)

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class CallLog:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.seq = 0
        self.counters: dict[str, ProxyCounters] = {}

    def counter(self, proxy: str) -> ProxyCounters:
        c = self.counters.get(proxy)
        if c is None:
            c = self.counters[proxy] = ProxyCounters()
        return c

    def add(self, record: dict[str, Any]) -> None:
        self.seq += 1
        record["seq"] = self.seq
        self.records.append(record)
        if record["kind"] in ("http", "tcp"):
            self.counter(record["proxy"]).calls += 1

    def since(self, after: int, limit: int) -> dict[str, Any]:
        """Records with ``seq > after``, oldest first, at most ``limit``; ``lost`` counts those
        that left the ring before this reader asked."""
        first = self.seq - len(self.records) + 1  # seq of the oldest record kept
        start = max(after + 1, first)
        lost = max(0, first - (after + 1)) if after < self.seq else 0
        i = start - first
        out = [self.records[j] for j in range(i, min(len(self.records), i + max(0, limit)))]
        return {
            "records": out,
            "next": out[-1]["seq"] if out else max(after, start - 1),
            "last": self.seq,
            "lost": lost,
            "proxies": {name: c.to_json() for name, c in sorted(self.counters.items())},
        }


@dataclass
class _Call:
    start: float  # monotonic
    start_wall: float
    method: str = ""
    path: str = ""
    endpoint: str = ""
    retry: int | None = None
    first_byte: float | None = None
    status: int = 0
    interim: bool = False  # a 1xx head was read; the final answer is still to come
    end: float | None = None


@dataclass
class _Exchange:
    start: float
    start_wall: float
    answered: float | None = None  # time of the last server byte so far
    first_byte: float | None = None


@dataclass
class ConnectionTap:
    """One connection's calls; fed by the proxy's links, it never touches the data."""

    proxy: str
    log: CallLog
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    conn: int = field(default_factory=lambda: next(_conn_ids))
    mode: str | None = None  # None until the first bytes tell: "http", "tcp"; "off" after a tap error
    opened: float = 0.0
    opened_wall: float = 0.0
    bytes_up: int = 0
    bytes_down: int = 0
    calls: int = 0
    _prefix: bytes = b""
    _pending: deque[_Call] = field(default_factory=deque)  # requests whose answer has not ended
    _exchange: _Exchange | None = None
    _closed: bool = False

    def __post_init__(self) -> None:
        self.opened, self.opened_wall = self.clock(), self.wall()
        self.requests = MessageStream(self._request_begin, self._request_head, self._request_end)
        self.responses = MessageStream(self._response_begin, self._response_head, self._response_end)
        c = self.log.counter(self.proxy)
        c.connections += 1
        c.open += 1
        self.log.add({"proxy": self.proxy, "kind": "open", "conn": self.conn, "start": round(self.opened_wall, 6)})

    # -- fed by the proxy ------------------------------------------------------------------
    # A fault in the tap must never cost the data path a byte: each entry point catches its own
    # errors, stops timing the connection and counts it (``tap_errors``).
    def client_bytes(self, data: bytes) -> None:
        """Bytes the client sent, as the proxy read them."""
        if self.mode != "off":
            try:
                self._client_bytes(data)
            except Exception:
                self._off()

    def server_bytes(self, data: bytes) -> None:
        """Bytes the client was sent, as the proxy wrote them."""
        if self.mode != "off":
            try:
                self._server_bytes(data)
            except Exception:
                self._off()

    def closed(self) -> None:
        """The connection is over (either side): what is still open is recorded as it stands."""
        try:
            self._closed_now()
        except Exception:
            self._off()

    def _off(self) -> None:
        self.mode = "off"
        self.log.counter(self.proxy).tap_errors += 1

    def _client_bytes(self, data: bytes) -> None:
        self.bytes_up += len(data)
        self.log.counter(self.proxy).bytes_up += len(data)
        if self.mode is None:
            self._prefix += data
            verdict = looks_like_http(self._prefix)
            if verdict is None and len(self._prefix) < 16:
                return
            self.mode = "http" if verdict else "tcp"
            data, self._prefix = self._prefix, b""
        if self.mode == "http":
            self.requests.feed(data)
            if self.requests.opaque:
                self._to_tcp()
        if self.mode == "tcp":
            now = self.clock()
            ex = self._exchange
            if ex is None or ex.answered is not None:
                if ex is not None:
                    self._record_exchange(ex, None)
                self._exchange = _Exchange(now, self.wall())

    def _server_bytes(self, data: bytes) -> None:
        self.bytes_down += len(data)
        self.log.counter(self.proxy).bytes_down += len(data)
        if self.mode is None:
            self.mode = "tcp"  # the server spoke first: not HTTP
        if self.mode == "http":
            if not self._pending and not self.responses.in_message:
                self._to_tcp()  # an answer to no request: not HTTP after all
            else:
                self.responses.feed(data)
                if self.responses.opaque:
                    self._to_tcp()
                return
        now = self.clock()
        if self._exchange is None:
            self._exchange = _Exchange(now, self.wall())
        if self._exchange.first_byte is None:
            self._exchange.first_byte = now
        self._exchange.answered = now

    def _closed_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        now = self.clock()
        if self.mode == "http":
            if self.responses.until_close and self._pending:
                self._complete(self._pending.popleft(), now)
            while self._pending:
                call = self._pending.popleft()
                self._record_call(call, now, "incomplete" if call.first_byte is not None else "no_response")
        elif self._exchange is not None:
            self._record_exchange(self._exchange, now)
            self._exchange = None
        c = self.log.counter(self.proxy)
        c.open -= 1
        self.log.add({"proxy": self.proxy, "kind": "close", "conn": self.conn, "start": round(self.opened_wall, 6),
                      "duration_us": _us(now - self.opened), "mode": self.mode or "idle", "calls": self.calls,
                      "bytes_up": self.bytes_up, "bytes_down": self.bytes_down})

    @staticmethod
    def refused(log: CallLog, proxy: str, wall: float) -> None:
        """A client connected but the upstream refused the dial: it was closed at once."""
        log.counter(proxy).refused += 1
        log.add({"proxy": proxy, "kind": "refused", "conn": next(_conn_ids), "start": round(wall, 6)})

    @property
    def in_flight(self) -> int:
        return len(self._pending) + (1 if self._exchange is not None and self._exchange.answered is None else 0)

    # -- HTTP --------------------------------------------------------------------------------
    def _request_begin(self) -> None:
        self._pending.append(_Call(self.clock(), self.wall()))

    def _request_head(self, head: Head) -> Framing:
        call = self._pending[-1]
        parts = head.start_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return OPAQUE
        call.method = parts[0]
        target = parts[1]
        # origin form (/path?query) is what clients send a server; absolute form only to a proxy
        call.path = (target.split("?", 1)[0] if target.startswith("/") else urllib.parse.urlsplit(target).path)[:300] or "/"
        call.endpoint = endpoint_of(call.method, call.path)
        retry = head.header(_RETRY_HEADER)
        if retry.isdigit():
            call.retry = int(retry)
        framing = body_length(head)
        return 0 if framing is None else framing  # a request without a length has no body

    def _request_end(self) -> None:
        pass  # the call ends with its answer

    def _response_begin(self) -> None:
        if not self._pending:
            self.responses.give_up()  # more answers than requests: not HTTP after all
            return
        call = self._pending[0]
        if call.first_byte is None:
            call.first_byte = self.clock()

    def _response_head(self, head: Head) -> Framing:
        call = self._pending[0]
        parts = head.start_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            return OPAQUE
        status = int(parts[1])
        if status == 101 or (call.method == "CONNECT" and 200 <= status < 300):
            call.status = status
            self._complete(self._pending.popleft(), self.clock())
            return OPAQUE  # the connection is something else from here on
        if 100 <= status < 200:
            call.interim = True  # 100 Continue, 103 Early Hints: the answer is still to come
            return 0
        call.status = status
        if call.method == "HEAD" or status in (204, 304):
            return 0
        framing = body_length(head)
        return UNTIL_CLOSE if framing is None else framing

    def _response_end(self) -> None:
        call = self._pending[0]
        if call.interim:
            call.interim = False
            call.first_byte = None  # the first byte of the answer itself is still to come
            return
        self._complete(self._pending.popleft(), self.clock())

    def _complete(self, call: _Call, now: float) -> None:
        self._record_call(call, now, "ok" if 0 < call.status < 400 else "http_error")

    def _record_call(self, call: _Call, now: float, outcome: str) -> None:
        self.calls += 1
        self.log.add({
            "proxy": self.proxy, "kind": "http", "conn": self.conn, "start": round(call.start_wall, 6),
            "duration_us": _us(now - call.start),
            "first_byte_us": None if call.first_byte is None else _us(call.first_byte - call.start),
            "method": call.method, "path": call.path, "endpoint": call.endpoint or "unparsed",
            "status": call.status, "retry": call.retry, "outcome": outcome,
        })

    def _to_tcp(self) -> None:
        """The stream stopped being readable HTTP: what was pending is recorded, the rest of the
        connection is timed as exchanges."""
        now = self.clock()
        while self._pending:
            call = self._pending.popleft()
            self._record_call(call, now, "unparsed" if not call.status else "ok")
        self.requests.give_up()
        self.responses.give_up()
        self.mode = "tcp"

    # -- anything else -------------------------------------------------------------------------
    def _record_exchange(self, ex: _Exchange, closed_at: float | None) -> None:
        end = ex.answered if ex.answered is not None else (closed_at if closed_at is not None else self.clock())
        self.calls += 1
        self.log.add({
            "proxy": self.proxy, "kind": "tcp", "conn": self.conn, "start": round(ex.start_wall, 6),
            "duration_us": _us(end - ex.start),
            "first_byte_us": None if ex.first_byte is None else _us(ex.first_byte - ex.start),
            "method": "", "path": "", "endpoint": "exchange", "status": 0, "retry": None,
            "outcome": "ok" if ex.answered is not None else "no_response",
        })


def _us(seconds: float) -> int:
    return max(0, int(round(seconds * 1_000_000)))

