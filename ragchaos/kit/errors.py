"""JSON errors for both apps: ``{"error": {"type", "message"}}`` with a fitting status.

Validation problems are 400 (the body is not JSON) or 422 (it is JSON but not a valid
request); an oversized body is 413. A failing dependency that the app did not handle is a 502
naming the dependency, so a scenario can tell "the provider failed us" from "we crashed"
(500, logged with the request id). No handler ever lets a traceback reach the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

__all__ = ["ApiError", "error_response", "install_error_handlers"]

log = logging.getLogger("ragchaos.app")


class ApiError(Exception):
    """An error answer: status, a short machine type, a human message, optional headers."""

    def __init__(self, status: int, type: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.headers = dict(headers or {})


def error_response(status: int, type: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": type, "message": message}}, status_code=status, headers=dict(headers or {}))


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "request body is not valid JSON"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return 422, "; ".join(parts)


def dependency_of(exc: BaseException) -> str | None:
    """Which dependency raised ``exc``, judged by the library it comes from."""
    module = type(exc).__module__
    if module.startswith("openai"):
        return "provider"
    if module.startswith(("chromadb", "httpx", "httpcore")):
        return "vectordb"
    return None


def install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.type, exc.message, exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, message = _validation_message(exc)
        return error_response(status, "invalid_request", message)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        # the documented types only (docs/apps.md): a framework's 4xx is the client's bad request
        default = "invalid_request" if exc.status_code < 500 else "internal_error"
        kind = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.status_code, default)
        return error_response(exc.status_code, kind, str(exc.detail), exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        dep = dependency_of(exc)
        if dep is not None:
            log.warning("dependency %s failed: %s: %s", dep, type(exc).__name__, exc)
            return error_response(502, f"{dep}_error", f"{dep} failed: {type(exc).__name__}: {exc}"[:500])
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; see the server log for the request id")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
