"""``/healthz`` and ``/readyz``, the routes every service behind a load balancer needs.

``/healthz`` says the process is up; ``/readyz`` says it can serve (its dependencies answer),
with a 503 and the failing checks otherwise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.responses import JSONResponse

__all__ = ["ReadyCheck", "add_health_routes"]

ReadyCheck = Callable[[], Awaitable[dict[str, str]]]


def add_health_routes(app: FastAPI, *, app_name: str, ready: ReadyCheck) -> None:
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "app": app_name})

    async def readyz() -> JSONResponse:
        failing = await ready()
        if failing:
            return JSONResponse({"status": "not_ready", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready", "app": app_name})

    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
