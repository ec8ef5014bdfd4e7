"""Run the provider under uvicorn: one process, one event loop, loopback only."""

from __future__ import annotations

import importlib.util

import uvicorn

from provider.app import create_app
from provider.config import ProviderConfig
from provider.http import quiet_deliberate_cuts

__all__ = ["serve"]


def _fastest(name: str, fallback: str) -> str:
    return name if importlib.util.find_spec(name) is not None else fallback


def serve(config: ProviderConfig, host: str, port: int, log_level: str = "warning") -> None:
    quiet_deliberate_cuts()
    server = uvicorn.Server(uvicorn.Config(
        create_app(config), host=host, port=port,
        loop=_fastest("uvloop", "asyncio"), http=_fastest("httptools", "h11"),
        lifespan="on", access_log=False, log_level=log_level,
        # keep-alive long enough for load generators and SDK pools that pause between calls
        timeout_keep_alive=30, backlog=2048,
    ))
    server.run()
