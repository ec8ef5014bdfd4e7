"""Bound how long a client may take to send a request, and how many may be sending at once.

uvicorn waits for a request's head and body as long as the client keeps the socket open, so a
client that sends a byte every few seconds holds a connection (and its memory) forever, and a few
thousand of them hold every file descriptor. ``guarded_h11(limits)`` is uvicorn's h11 protocol
with two bounds:

* **read time**: from a connection's first byte of a request (or its opening) to the last byte of
  that request's body, at most ``read_timeout_s``; past it the client gets 408 (if nothing was
  answered yet) and the connection is closed;
* **how many are reading**: at most ``max_reading`` connections may be part-way through sending
  a request; one more closes the one that has been reading longest, provided it has been reading
  for ``evict_after_s`` (a burst of new, fast clients is never cut; slow ones make room).

Idle keep-alive connections are not reading (uvicorn's own keep-alive timeout closes those).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["ReadLimits", "guarded_h11"]

_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s"
)


@dataclass(frozen=True)
class ReadLimits:
    read_timeout_s: float = 15.0
    max_reading: int = 256
    evict_after_s: float = 1.0
    clock: Callable[[], float] = time.monotonic


def _timeout_body(limit_s: float) -> bytes:
    message = f"request not received within {limit_s:g} s"
    return b'{"error": {"type": "request_timeout", "message": "%s"}}' % message.encode()


def guarded_h11(limits: ReadLimits) -> type[H11Protocol]:
    """An h11 protocol class for ``uvicorn.Config(http=...)``, with its own set of reading connections."""
    reading: OrderedDict[GuardedH11, float] = OrderedDict()  # connection -> when it started reading

    class GuardedH11(H11Protocol):
        _read_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn narrows it
            super().connection_made(transport)
            self._start_reading()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_reading()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._read_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._start_reading()  # the first bytes of the next request on a kept-alive connection
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and not cycle.more_body and not cycle.response_complete:
                self._stop_reading()  # head and body are in

        def _start_reading(self) -> None:
            self._read_timer = self.loop.call_later(limits.read_timeout_s, self._read_timed_out)
            now = limits.clock()
            reading[self] = now
            if len(reading) > limits.max_reading:
                oldest, since = next(iter(reading.items()))
                if oldest is not self and now - since >= limits.evict_after_s:
                    oldest._cut(answer=False)

        def _stop_reading(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None
            reading.pop(self, None)

        def _read_timed_out(self) -> None:
            self._read_timer = None
            self._cut(answer=True)

        def _cut(self, *, answer: bool) -> None:
            self._stop_reading()
            if self.transport.is_closing():
                return
            if answer and (self.cycle is None or self.cycle.response_complete):  # nothing answered on this request yet
                body = _timeout_body(limits.read_timeout_s)
                self.transport.write(_TIMEOUT_RESPONSE % (len(body), body))
            self.transport.close()

    return GuardedH11


def protocol_options(limits: ReadLimits) -> dict[str, Any]:
    """The keyword arguments for ``uvicorn.run``/``uvicorn.Config`` that install the guard."""
    return {"http": guarded_h11(limits)}
