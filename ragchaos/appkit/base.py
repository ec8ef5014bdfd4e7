"""The FastAPI shell both apps start from: middleware, error handlers and ops routes.

An app's ``create_app(settings)`` calls ``build_app`` and adds its own ``/v1`` routes; the
shell never decides how a dependency is called, which is the one thing the two apps differ in.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from ragchaos import __version__
from ragchaos.appkit.bodylimit import BodyLimitMiddleware
from ragchaos.appkit.context import RequestContextMiddleware
from ragchaos.appkit.errors import install_error_handlers
from ragchaos.appkit.openapi import document_errors
from ragchaos.appkit.ops import ReadyCheck, add_ops_routes, zero_metrics
from ragchaos.appkit.settings import AppSettings
from ragchaos.metrics import AppMetrics
from ragchaos.stages import StageRecorder

__all__ = ["build_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _always_ready() -> dict[str, str]:
    return {}


def build_app(
    settings: AppSettings,
    *,
    title: str,
    metrics: AppMetrics,
    recorder: StageRecorder,
    ready: ReadyCheck = _always_ready,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(title=title, version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    document_errors(app)
    zero_metrics(metrics)
    add_ops_routes(app, metrics=metrics, recorder=recorder, ready=ready)
    # added last = outermost: the request id is set before the body limit can refuse
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.recorder = recorder
    return app

