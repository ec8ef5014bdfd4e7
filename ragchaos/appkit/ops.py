"""Operational routes both apps share: health, readiness, Prometheus metrics, HDR stats.

``/healthz`` says the process is up; ``/readyz`` says it can serve (its dependencies answer),
with a 503 and the failing checks otherwise. ``/metrics`` exposes the DESIGN.md metric names,
pre-set to zero for the labels we know, so a dashboard or a verdict sees "0" rather than
"missing" for a mechanism that never fired (or that the naive app does not have).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.responses import JSONResponse, Response

from ragchaos.metrics import PROMETHEUS_CONTENT_TYPE, AppMetrics
from ragchaos.stages import StageRecorder, hdr_routes

__all__ = ["CACHE_LAYERS", "DEPENDENCIES", "FALLBACK_KINDS", "add_ops_routes", "zero_metrics"]

DEPENDENCIES = ("embeddings", "chat", "vectordb")
CACHE_LAYERS = ("response", "semantic", "embedding", "retrieval")
FALLBACK_KINDS = ("cache", "semantic", "retrieval_only", "unavailable")
TOKEN_KINDS = ("embedding", "prompt", "completion")

ReadyCheck = Callable[[], Awaitable[dict[str, str]]]


def zero_metrics(metrics: AppMetrics) -> None:
    """Create the known label sets at zero (labelled Prometheus series exist only once touched)."""
    for layer in CACHE_LAYERS:
        for result in ("hit", "miss"):
            metrics.cache_requests.labels(layer=layer, result=result)
    for dep in DEPENDENCIES:
        metrics.breaker_state.labels(dependency=dep).set(0)
    for kind in FALLBACK_KINDS:
        metrics.fallbacks.labels(kind=kind)
    for kind in TOKEN_KINDS:
        metrics.provider_tokens.labels(kind=kind)
    for endpoint in ("embeddings", "chat"):
        metrics.provider_calls.labels(endpoint=endpoint)


def add_ops_routes(app: FastAPI, *, metrics: AppMetrics, recorder: StageRecorder, ready: ReadyCheck) -> None:
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "app": metrics.app_name})

    async def readyz() -> JSONResponse:
        failing = await ready()
        if failing:
            return JSONResponse({"status": "not_ready", "failing": failing}, status_code=503)
        return JSONResponse({"status": "ready", "app": metrics.app_name})

    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/metrics", prometheus, methods=["GET"], include_in_schema=False)
    hdr_routes(app, recorder)
