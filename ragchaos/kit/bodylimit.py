"""Refuse request bodies over a size limit with 413, before they are read into memory.

Checks ``Content-Length`` up front and also counts the bytes actually received, so a chunked
upload without a length cannot slip past. A chunked body found too large half-way gets the same
413 as a sized one: the framework turns an error raised while it reads the body into its own 400,
so the middleware keeps the app's answer from the client and sends its own.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ragchaos.kit.errors import ApiError, error_response

__all__ = ["BodyLimitMiddleware"]


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"request body exceeds {self.max_bytes} bytes"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise ApiError(400, "invalid_request", "Content-Length is not a number") from None
            if declared > self.max_bytes:
                raise ApiError(413, "body_too_large", self._message())
        seen = 0
        too_large = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not too_large:  # once over the limit, the 413 below is the only answer
                await send(message)

        with contextlib.suppress(_TooLarge):  # raised through the app: the 413 below answers it
            await self.app(scope, counting_receive, guarded_send)
        if too_large:
            response = error_response(413, "body_too_large", self._message(), {"Connection": "close"})
            await response(scope, receive, send)
