"""The FastAPI shell both apps start from: middleware, error handlers and health routes.

An app's ``create_app(settings)`` calls ``build_app`` and adds its own ``/v1`` routes; the
shell never decides how a dependency is called, which is the one thing the two apps differ in.
Instrumentation is not part of the shell: an app that measures itself adds it
(``ragchaos.measure.ops.instrument_app``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI

from ragchaos import __version__
from ragchaos.kit.bodylimit import BodyLimitMiddleware
from ragchaos.kit.context import RequestContextMiddleware
from ragchaos.kit.errors import install_error_handlers
from ragchaos.kit.health import ReadyCheck, add_health_routes
from ragchaos.kit.openapi import document_errors
from ragchaos.kit.settings import AppSettings

__all__ = ["build_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _always_ready() -> dict[str, str]:
    return {}


def build_app(
    settings: AppSettings,
    *,
    title: str,
    ready: ReadyCheck = _always_ready,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    app = FastAPI(title=title, version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    install_error_handlers(app)
    document_errors(app)
    add_health_routes(app, app_name=settings.app_name, ready=ready)
    # added last = outermost: the request id is set before the body limit can refuse
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.state.settings = settings
    return app
