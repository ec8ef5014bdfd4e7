"""The little HTTP plumbing the provider needs on raw ASGI.

The provider sits on the hot path of every scenario and must serve thousands of requests a
second on one core, so it talks ASGI directly (uvicorn + httptools + uvloop) instead of going
through a framework's routing, validation and middleware stack on every call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from ragchaos.provider.errors import ApiError, bad_request

__all__ = ["Receive", "Reply", "Request", "Send", "StreamReply", "error_reply", "json_reply", "parse_json",
           "quiet_deliberate_cuts", "read_request", "send_reply"]

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_MAX_BODY = 64 * 1024 * 1024


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    # close the connection halfway through the body (a stream_cut fault on a non-stream answer)
    cut: bool = False


@dataclass(slots=True)
class StreamReply:
    """A server-sent-event stream; ``cut_after`` closes the connection after that many events."""

    events: AsyncGenerator[bytes, None]
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    status: int = 200


async def read_request(scope: dict[str, Any], receive: Receive) -> Request:
    chunks = []
    size = 0
    while True:
        message = await receive()
        body = message.get("body", b"")
        if body:
            size += len(body)
            if size > _MAX_BODY:
                raise bad_request("The request body is too large.")
            chunks.append(body)
        if not message.get("more_body"):
            break
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    return Request(scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), headers,
                   b"".join(chunks))


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
            "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid "
            "JSON.)") from None


def json_reply(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), headers or {})


def error_reply(err: ApiError, headers: dict[str, str] | None = None) -> Reply:
    return json_reply(err.body, err.status, {**(headers or {}), **err.headers})


def _header_list(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


async def send_reply(send: Send, reply: Reply | StreamReply, receive: Receive | None = None) -> None:
    """Send ``reply``; a cut returns without completing, and uvicorn then closes the connection.

    A stream stops early when the client disconnects (``receive`` reports it), so an abandoned
    stream does not keep its service slot for the rest of its modelled duration.
    """
    if isinstance(reply, StreamReply):
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                (b"cache-control", b"no-cache"), *_header_list(reply.headers)]})
        gone = asyncio.ensure_future(receive()) if receive is not None else None
        sent = 0
        try:
            async for event in reply.events:
                if (reply.cut_after is not None and sent >= reply.cut_after) or (gone is not None and gone.done()):
                    return
                await send({"type": "http.response.body", "body": event, "more_body": True})
                sent += 1
        finally:
            if gone is not None:
                gone.cancel()
            await reply.events.aclose()  # releases the service slot at once
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    headers = [_JSON, (b"content-length", str(len(reply.body)).encode()), *_header_list(reply.headers)]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    if reply.cut:
        await send({"type": "http.response.body", "body": reply.body[: len(reply.body) // 2], "more_body": True})
        return
    await send({"type": "http.response.body", "body": reply.body})


class _DropDeliberateCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def quiet_deliberate_cuts() -> None:
    """A cut is what a stream_cut fault asks for, not an app bug: keep it out of the error log."""
    logging.getLogger("uvicorn.error").addFilter(_DropDeliberateCuts())
