"""A small asyncio HTTP/1.1 server: just enough for the Toxiproxy API, with full control over
status lines, headers and bodies (the API's exact bytes matter to clients that compare them).

Keep-alive, Content-Length and chunked request bodies; a 25 s handler limit (503, empty body)
and a 15 s read limit, like Toxiproxy's http.Server and TimeoutHandler.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate

__all__ = ["Request", "Response", "serve_http"]

MAX_LINE = 16 * 1024
MAX_BODY = 16 * 1024 * 1024
READ_TIMEOUT_S = 15.0
HANDLER_TIMEOUT_S = 25.0


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, as gorilla/mux matches it
    headers: dict[str, str]
    body: bytes
    query: str = ""  # the raw query string (the Toxiproxy API itself reads none)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    line = await reader.readline()
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise _BadRequest("request line too long")
    parts = line.decode("latin-1").strip().split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise _BadRequest("malformed request line")
    method, target, _version = parts
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if not raw:
            return None
        text = raw.decode("latin-1").rstrip("\r\n")
        if not text:
            break
        name, sep, value = text.partition(":")
        if not sep:
            raise _BadRequest("malformed header")
        headers[name.strip().lower()] = value.strip()
        if len(headers) > 100:
            raise _BadRequest("too many headers")
    body = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        total = 0
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise _BadRequest("malformed chunk size") from None
            if size == 0:
                while (await reader.readline()).strip():
                    pass  # trailers
                break
            total += size
            if total > MAX_BODY:
                raise _BadRequest("body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise _BadRequest("bad Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise _BadRequest("bad Content-Length")
        body = await reader.readexactly(length)
    split = urllib.parse.urlsplit(target)
    return Request(method.upper(), urllib.parse.unquote(split.path), headers, body, split.query)


def _encode(resp: Response, keep_alive: bool) -> bytes:
    reason = http.HTTPStatus(resp.status).phrase if resp.status in http.HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {resp.status} {reason}"]
    lines += [f"{k}: {v}" for k, v in resp.headers]
    lines.append(f"Date: {formatdate(usegmt=True)}")
    if resp.status != 204:
        lines.append(f"Content-Length: {len(resp.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body


async def _serve_conn(handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            try:
                req = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT_S)
            except (_BadRequest, ValueError) as exc:  # ValueError: a line over the reader's limit
                body = f"400 Bad Request: {exc}".encode()
                writer.write(_encode(Response(400, body, [("Content-Type", "text/plain; charset=utf-8")]), False))
                break
            if req is None:
                break
            try:
                resp = await asyncio.wait_for(handler(req), HANDLER_TIMEOUT_S)
            except TimeoutError:
                resp = Response(503)
            keep_alive = req.headers.get("connection", "").lower() != "close"
            writer.write(_encode(resp, keep_alive))
            await writer.drain()
            if not keep_alive:
                break
    except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def serve_http(handler: Handler, host: str, port: int) -> asyncio.Server:
    return await asyncio.start_server(
        lambda r, w: _serve_conn(handler, r, w), host, port, reuse_address=True, limit=MAX_LINE
    )
