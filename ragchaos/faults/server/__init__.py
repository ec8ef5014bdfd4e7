"""The built-in Toxiproxy-compatible server: ``create_server(settings)`` and ``serve(settings)``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path

from ragchaos.faults.server.api import VERSION, Api
from ragchaos.faults.server.calls import CallLog
from ragchaos.faults.server.calls_api import add_call_routes
from ragchaos.faults.server.http import serve_http
from ragchaos.faults.server.proxy import ApiError, ProxyCollection, ServerFailure

__all__ = ["FaultServer", "ServerSettings", "create_server", "serve"]


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8474
    config: Path | None = None  # a populate.json loaded at startup
    seed: int | None = None  # unlike Toxiproxy's no-op -seed, this one makes toxicity rolls repeatable
    allow_remote: bool = False
    version: str = VERSION
    # time every call each proxy carries (GET /ragchaos/calls); off: the proxy only forwards
    call_timing: bool = True


class FaultServer:
    def __init__(self, settings: ServerSettings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.calls = CallLog() if settings.call_timing else None
        self.proxies = ProxyCollection(loop, random.Random(settings.seed), settings.allow_remote, self.calls)
        self.api = Api(self.proxies, settings.version)
        if self.calls is not None:
            add_call_routes(self.api, self.proxies, self.calls)
        self.http: asyncio.Server | None = None

    async def start(self) -> None:
        if self.settings.config is not None:
            await self.load_config(self.settings.config)
        self.http = await serve_http(self.api, self.settings.host, self.settings.port)

    async def load_config(self, path: Path) -> None:
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"ragchaos toxiproxy: cannot read config {path}: {exc}") from None
        if not isinstance(entries, list):
            raise SystemExit(f"ragchaos toxiproxy: config {path}: expected a JSON array of proxies")
        for i, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or not entry.get("name") or not entry.get("upstream"):
                raise SystemExit(f"ragchaos toxiproxy: config {path}: proxy {i} needs 'name' and 'upstream'")
            proxy = self.proxies.new(entry["name"], entry.get("listen", ""), entry["upstream"])
            try:
                await self.proxies.add_or_replace(proxy, entry.get("enabled", True) is not False)
            except (ApiError, ServerFailure) as exc:
                raise SystemExit(f"ragchaos toxiproxy: config {path}: proxy {entry['name']}: {exc}") from None

    async def close(self) -> None:
        if self.http is not None:
            self.http.close()
        self.proxies.stop_all()


def create_server(settings: ServerSettings, loop: asyncio.AbstractEventLoop | None = None) -> FaultServer:
    return FaultServer(settings, loop or asyncio.get_event_loop())


async def _main(settings: ServerSettings) -> None:
    loop = asyncio.get_running_loop()
    server = create_server(settings, loop)
    await server.start()
    print(
        json.dumps({"level": "info", "host": settings.host, "port": settings.port, "version": settings.version,
                    "call_timing": settings.call_timing,
                    "message": "Starting Toxiproxy HTTP server (ragchaos built-in)"}),
        flush=True,
    )
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, done.set)
    await done.wait()
    await server.close()


def serve(settings: ServerSettings) -> int:
    """Run until SIGINT/SIGTERM, on uvloop when it is installed (a faster event loop)."""
    runner: Callable[[Coroutine[None, None, None]], None]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    try:
        runner(_main(settings))
    except OSError as exc:
        print(f"ragchaos toxiproxy: cannot listen on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    return 0
