"""Request ids, one access-log line per request, and the last line of error handling.

A pure ASGI middleware (no BaseHTTPMiddleware, so streaming answers are not buffered). It takes
the caller's ``X-Request-Id`` when it is a sane token, or makes one, puts it in a context
variable that every log line carries, and echoes it on the response. An exception that escapes
the app becomes the same JSON error the handlers produce, with the request id on it, instead of
a bare 500 from the server.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from typing import Any

from ragchaos.kit.errors import ApiError, dependency_of

__all__ = ["REQUEST_ID", "RequestContextMiddleware", "current_request_id"]

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = logging.getLogger("ragchaos.access")
errlog = logging.getLogger("ragchaos.app")


def current_request_id() -> str:
    return REQUEST_ID.get()


def _json_error(status: int, type: str, message: str, extra: dict[str, str]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    import json

    body = json.dumps({"error": {"type": type, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    return status, headers, body


class RequestContextMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex[:16]
        token = REQUEST_ID.set(rid)
        started = False
        status = 0
        t0 = time.perf_counter()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:  # mid-stream: the status is gone, all we can do is log and cut the stream
                errlog.exception("error after the response started")
                raise
            if isinstance(exc, ApiError):
                code, headers, body = _json_error(exc.status, exc.type, exc.message, exc.headers)
            elif (dep := dependency_of(exc)) is not None:
                errlog.warning("dependency %s failed: %s: %s", dep, type(exc).__name__, exc)
                # the dependency's own words (a 400 says which input it refused), as errors.py answers
                code, headers, body = _json_error(502, f"{dep}_error", f"{dep} failed: {type(exc).__name__}: {exc}"[:500], {})
            else:
                errlog.exception("unhandled error")
                code, headers, body = _json_error(500, "internal_error", "internal error; see the log for this request id", {})
            await send_with_id({"type": "http.response.start", "status": code, "headers": headers})
            await send_with_id({"type": "http.response.body", "body": body})
        finally:
            if scope.get("path") not in ("/metrics", "/healthz", "/readyz"):
                log.info(
                    "%s %s %d",
                    scope.get("method"),
                    scope.get("path"),
                    status,
                    extra={"duration_ms": round((time.perf_counter() - t0) * 1000, 2)},
                )
            REQUEST_ID.reset(token)
