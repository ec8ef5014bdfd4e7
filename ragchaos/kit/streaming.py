"""The streamed form of a query answer (``"stream": true``), the same in both apps.

Server-sent events: ``{"type": "delta", "content": "..."}`` as the answer is generated, then
one ``{"type": "done", ...}`` carrying the full QueryResponse (answer, sources, cached,
degraded), then ``[DONE]``. A failure after the stream started is sent as
``{"type": "error", "error": {...}}`` because the status line is already gone.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

from ragchaos.kit.schemas import QueryResponse

__all__ = ["sse_done", "sse_delta", "sse_error", "sse_response"]


def _event(obj: Any) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


def sse_delta(content: str) -> bytes:
    return _event({"type": "delta", "content": content})


def sse_done(resp: QueryResponse) -> bytes:
    return _event({"type": "done", **resp.model_dump()}) + b"data: [DONE]\n\n"


def sse_error(type: str, message: str) -> bytes:
    return _event({"type": "error", "error": {"type": type, "message": message}}) + b"data: [DONE]\n\n"


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache", **headers})
