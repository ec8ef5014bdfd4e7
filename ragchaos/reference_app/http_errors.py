"""What a client sees for each of the reference app's own errors: the one mapping to HTTP.

| error | answer |
|---|---|
| ``QuotaExceeded`` (quotas.py) | 429 ``quota_exceeded``, Retry-After |
| ``Overloaded`` (admission.py) | 503 ``overloaded``, Retry-After |
| ``DependencyUnavailable`` (resilience.py; fallback.py when no fallback answer exists) | 503 ``dependency_unavailable``, Retry-After, X-Degraded |
| any other ``ReferenceAppError`` (a guard's internal signal that escaped: a bug) | 500 ``internal_error``, logged |

Errors that are not ours keep the kit's answers (kit/errors.py): ``ApiError`` as it says, a
dependency's library error 502, anything else 500.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse

from ragchaos.kit.errors import ApiError, error_response
from ragchaos.reference_app.admission import Overloaded
from ragchaos.reference_app.errors import ReferenceAppError
from ragchaos.reference_app.fallback import degraded_reason
from ragchaos.reference_app.quotas import QuotaExceeded
from ragchaos.reference_app.resilience import DependencyUnavailable

__all__ = ["api_error", "install_error_mapping"]

log = logging.getLogger("ragchaos.app")


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def api_error(exc: ReferenceAppError) -> ApiError | None:
    """The answer for ``exc``, or None when it is not one a client should ever see."""
    if isinstance(exc, QuotaExceeded):
        return ApiError(429, "quota_exceeded", f"tenant {exc.tenant!r} is over its request quota",
                        _retry_after(exc.retry_after))
    if isinstance(exc, Overloaded):
        return ApiError(503, "overloaded", f"server overloaded ({exc.reason}); retry later",
                        _retry_after(exc.retry_after))
    if isinstance(exc, DependencyUnavailable):
        return ApiError(503, "dependency_unavailable", f"{exc.dependency} unavailable ({exc.reason}); retry later",
                        {**_retry_after(exc.retry_after or 1.0), "X-Degraded": degraded_reason(exc)})
    return None


def install_error_mapping(app: FastAPI) -> None:
    async def on_ours(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ReferenceAppError)
        answer = api_error(exc)
        if answer is None:
            log.error("internal signal %s reached the client: %s", type(exc).__name__, exc, exc_info=exc)
            return error_response(500, "internal_error", "internal error; see the server log for the request id")
        return error_response(answer.status, answer.type, answer.message, answer.headers)

    app.add_exception_handler(ReferenceAppError, on_ours)
