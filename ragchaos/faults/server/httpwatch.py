"""Passive HTTP/1.1 framing: where each message of one direction of a connection begins, where
its head ends and where its body ends. It reads a copy of the bytes the proxy forwards and never
changes, delays or buffers them; bodies are counted, not kept.

``MessageStream(on_begin, on_head, on_end)`` is fed the bytes of one direction in order:

- ``on_begin()``: the first byte of a message (blank lines between messages are skipped);
- ``on_head(head) -> Framing``: the start line and headers are complete; the caller says how
  the body is framed (it alone knows, for a response, which request it answers);
- ``on_end()``: the body is complete (at once for a body of length 0).

A stream it cannot read as HTTP (a head over ``HEAD_LIMIT``, a bad chunk size, a head without a
start line) turns ``opaque``: it stops parsing and the caller stops timing that connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CHUNKED",
    "HEAD_LIMIT",
    "OPAQUE",
    "UNTIL_CLOSE",
    "Framing",
    "Head",
    "MessageStream",
    "body_length",
    "looks_like_http",
]

HEAD_LIMIT: Final = 64 * 1024
_MAX_LINE: Final = 16 * 1024

# how a body is framed: a byte count, or one of these
CHUNKED: Final = -1
UNTIL_CLOSE: Final = -2  # a response without length: it ends when the server closes
OPAQUE: Final = -3  # stop parsing (101 Switching Protocols, CONNECT tunnels)
Framing = int

_METHODS: Final = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"TRACE ", b"CONNECT ")


def looks_like_http(prefix: bytes) -> bool | None:
    """Whether a connection's first client bytes start an HTTP/1.x request (None: too few to tell)."""
    data = prefix.lstrip(b"\r\n")
    if not data:
        return None
    for method in _METHODS:
        if data.startswith(method):
            return True
        if method.startswith(data):
            return None
    return False


@dataclass(frozen=True)
class Head:
    start_line: str  # "POST /v1/embeddings HTTP/1.1" or "HTTP/1.1 200 OK"
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


# parser states
_IDLE, _HEAD, _BODY, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _UNTIL_CLOSE, _OPAQUE = range(9)


class MessageStream:
    def __init__(self, on_begin: Callable[[], None], on_head: Callable[[Head], Framing],
                 on_end: Callable[[], None]) -> None:
        self.on_begin = on_begin
        self.on_head = on_head
        self.on_end = on_end
        self._state = _IDLE
        self._left = 0
        self._line = bytearray()
        self._lines: list[bytes] = []
        self._head_bytes = 0

    @property
    def opaque(self) -> bool:
        return self._state == _OPAQUE

    @property
    def until_close(self) -> bool:
        return self._state == _UNTIL_CLOSE

    @property
    def in_message(self) -> bool:
        """A message has begun and has not ended."""
        return self._state not in (_IDLE, _OPAQUE)

    def give_up(self) -> None:
        self._state = _OPAQUE
        self._line.clear()
        self._lines.clear()

    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            state = self._state
            if state == _BODY:
                take = min(self._left, n - pos)
                pos += take
                self._left -= take
                if self._left == 0:
                    self._finish()
            elif state == _IDLE:
                if data[pos] in (13, 10):  # blank lines before a message are allowed (RFC 9112 2.2)
                    pos += 1
                    continue
                self._state = _HEAD
                self._head_bytes = 0
                self.on_begin()
            elif state == _HEAD:
                if not self._line and not self._lines:  # the fast path: the whole head in this chunk
                    end = data.find(b"\r\n\r\n", pos, pos + HEAD_LIMIT)
                    if end >= 0:
                        self._lines = data[pos:end].split(b"\r\n")
                        pos = end + 4
                        if len(self._lines) > 200:
                            self.give_up()
                            return
                        self._head_done()
                        continue
                line, pos = self._take_line(data, pos)
                if line is None:
                    continue
                if line:
                    self._lines.append(line)
                    if len(self._lines) > 200:
                        self.give_up()
                else:
                    self._head_done()
            elif state in (_CHUNK_DATA, _CHUNK_CRLF):
                take = min(self._left, n - pos)
                pos += take
                self._left -= take
                if self._left == 0:
                    if state == _CHUNK_DATA:
                        self._state, self._left = _CHUNK_CRLF, 2
                    else:
                        self._state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                line, pos = self._take_line(data, pos)
                if line is None:
                    continue
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.give_up()
                    return
                if size < 0:
                    self.give_up()
                elif size == 0:
                    self._state = _TRAILER
                else:
                    self._state, self._left = _CHUNK_DATA, size
            elif state == _TRAILER:
                line, pos = self._take_line(data, pos)
                if line is not None and not line:
                    self._finish()
            else:  # _UNTIL_CLOSE, _OPAQUE: nothing more to find
                return

    def _take_line(self, data: bytes, pos: int) -> tuple[bytes | None, int]:
        """One line (without its line end) if it is complete in ``data``; else keep the piece."""
        idx = data.find(b"\n", pos)
        if idx < 0:
            self._line += data[pos:]
            self._grow(len(data) - pos)
            return None, len(data)
        self._line += data[pos:idx + 1]
        self._grow(idx + 1 - pos)
        line = bytes(self._line).rstrip(b"\r\n")
        self._line.clear()
        return line, idx + 1

    def _grow(self, n: int) -> None:
        self._head_bytes += n
        if len(self._line) > _MAX_LINE or self._head_bytes > HEAD_LIMIT:
            self.give_up()

    def _head_done(self) -> None:
        lines, self._lines = self._lines, []
        if not lines:
            self.give_up()
            return
        headers: dict[str, str] = {}
        for raw in lines[1:]:
            if raw[:1] in (b" ", b"\t"):
                continue  # obsolete line folding: not a header of its own
            name, sep, value = raw.partition(b":")
            if not sep:
                self.give_up()
                return
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        framing = self.on_head(Head(lines[0].decode("latin-1"), headers))
        if self._state == _OPAQUE:  # the caller gave up while looking at the head
            return
        if framing == OPAQUE:
            self.give_up()
        elif framing == CHUNKED:
            self._state = _CHUNK_SIZE
        elif framing == UNTIL_CLOSE:
            self._state = _UNTIL_CLOSE
        elif framing > 0:
            self._state, self._left = _BODY, framing
        else:
            self._finish()

    def _finish(self) -> None:
        self._state = _IDLE
        self.on_end()


def body_length(head: Head) -> Framing | None:
    """Chunked, a Content-Length, or None when the head says neither (or says nonsense)."""
    if "chunked" in head.header("transfer-encoding").lower():
        return CHUNKED
    text = head.header("content-length")
    if not text:
        return None
    try:
        value = int(text.split(",")[0].strip())
    except ValueError:
        return OPAQUE
    return value if value >= 0 else OPAQUE
