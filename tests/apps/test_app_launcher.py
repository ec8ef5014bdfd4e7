"""The one app launcher (ragchaos/stack/local.py): an app wired through its own proxies, restarted on
its port, stopped once however many times ``stop`` is called."""

from __future__ import annotations

import os

import httpx
import pytest

from ragchaos.stack.local import AppLauncher

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_launch_wires_its_own_proxies_restarts_on_the_same_port_and_stops_once(app_launcher: AppLauncher) -> None:
    app = app_launcher.launch("launcher_naive", kind="naive")
    assert app.proxies == {"provider": "launcher_naive_provider", "vectordb": "launcher_naive_vectordb"}
    proxies = httpx.get(f"{app_launcher.toxiproxy_url}/proxies", timeout=10).json()
    assert set(app.proxies.values()) <= set(proxies)
    assert app.env["RAGCHAOS_PROVIDER_URL"].startswith(f"http://{proxies['launcher_naive_provider']['listen']}")
    first_pid, port = app.pid, app.endpoint.port

    app.restart(kill=True)  # a crash, then the same app again
    assert app.pid != first_pid and not _alive(first_pid)
    assert app.endpoint.port == port and httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200
    assert sum(p is app.process for p in app_launcher.group.processes) == 1  # the group holds it once

    pid = app.pid
    app.stop()
    app.stop()  # a no-op: nothing left to stop
    assert not _alive(pid) and all(p is not app.process for p in app_launcher.group.processes)
