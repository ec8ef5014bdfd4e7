"""What an instrumented app exposes for the harness: Prometheus metrics and HDR stage stats.

``/metrics`` exposes the mechanism metric names (docs/contracts.md), pre-set to zero for the
labels we know, so a dashboard or a verdict sees "0" rather than "missing" for a mechanism
that never fired. ``/_stats/hdr`` serves the per-stage histograms.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response

from ragchaos.measure.metrics import PROMETHEUS_CONTENT_TYPE, AppMetrics
from ragchaos.measure.stages import StageRecorder, hdr_routes

__all__ = ["CACHE_LAYERS", "DEPENDENCIES", "FALLBACK_KINDS", "instrument_app", "zero_metrics"]

DEPENDENCIES = ("embeddings", "chat", "vectordb")
CACHE_LAYERS = ("response", "semantic", "embedding", "retrieval")
FALLBACK_KINDS = ("cache", "semantic", "retrieval_only", "unavailable")
TOKEN_KINDS = ("embedding", "prompt", "completion")


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


def instrument_app(app: FastAPI, *, metrics: AppMetrics, recorder: StageRecorder) -> None:
    """Serve ``/metrics`` and ``/_stats/hdr`` from this app's own metrics and stage recorder."""
    zero_metrics(metrics)

    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    app.add_api_route("/metrics", prometheus, methods=["GET"], include_in_schema=False)
    hdr_routes(app, recorder)
    app.state.metrics = metrics
    app.state.recorder = recorder
