"""Run the provider under uvicorn: one process, one event loop, loopback only."""

from __future__ import annotations

import importlib.util
import logging
from types import FrameType

import uvicorn

from ragchaos.provider.app import ProviderApp, create_app
from ragchaos.provider.config import ProviderConfig
from ragchaos.provider.http import quiet_deliberate_cuts

__all__ = ["serve"]


def _fastest(name: str, fallback: str) -> str:
    return name if importlib.util.find_spec(name) is not None else fallback


class _Server(uvicorn.Server):
    """On SIGTERM/SIGINT, first let go of requests a hang fault holds, so shutdown is prompt."""

    def __init__(self, config: uvicorn.Config, app: ProviderApp) -> None:
        super().__init__(config)
        self.provider_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.provider_app.release_held()
        super().handle_exit(sig, frame)


def serve(config: ProviderConfig, host: str, port: int, log_level: str = "warning") -> None:
    quiet_deliberate_cuts()
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(config)
    server = _Server(uvicorn.Config(
        app, host=host, port=port,
        loop=_fastest("uvloop", "asyncio"), http=_fastest("httptools", "h11"),
        lifespan="on", access_log=False, log_level=log_level,
        # keep-alive long enough for load generators and SDK pools that pause between calls
        timeout_keep_alive=30, backlog=2048,
        # a request held by a hang fault must not keep a stopping provider alive
        timeout_graceful_shutdown=2,
    ), app)
    server.run()
