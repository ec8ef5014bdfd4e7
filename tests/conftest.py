"""Shared fixtures: the real servers, started once per test session on loopback.

- ``provider``: the simulated provider process (an ``Endpoint``); it knows the keys
  ``naive``, ``reference``, ``test`` and ``key-001`` … ``key-200`` (one per app a test starts).
- ``chroma``: a real Chroma server process.
- ``toxiproxy``: a Toxiproxy API (the real one if ``TOXIPROXY_URL`` is set, else ours).
- ``app_launcher``: a ``ragchaos.stack.AppLauncher`` on those three, the one way tests start our
  apps (``tests/apps/helpers.launch`` and ``tests/scaleout``'s fleet use it too); every app it
  started is stopped when the test ends.
- ``start_app``: starts one of our apps wired through fresh proxies, with its own provider key
  and collections (an ``AppHandle``), and stops it when the test ends.

Every process is stopped by PID at the end of the session (``ProcessGroup``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import (
    AppHandle,
    AppLauncher,
    Endpoint,
    ToxiproxyHandle,
    start_chroma,
    start_provider,
    start_toxiproxy,
)

TEST_KEYS = [f"key-{i:03d}" for i in range(1, 201)]


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def process_group() -> Iterator[ProcessGroup]:
    group = ProcessGroup()
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture(scope="session")
def provider(process_group: ProcessGroup, session_dir: Path) -> Endpoint:
    _, endpoint = start_provider(
        process_group, session_dir / "logs", env={"RAGCHAOS_PROVIDER_KEYS": ",".join(TEST_KEYS)}
    )
    return endpoint


@pytest.fixture(scope="session")
def chroma(process_group: ProcessGroup, session_dir: Path) -> Endpoint:
    _, endpoint = start_chroma(process_group, session_dir / "logs", session_dir / "chroma")
    return endpoint


@pytest.fixture(scope="session")
def toxiproxy(process_group: ProcessGroup, session_dir: Path) -> ToxiproxyHandle:
    return start_toxiproxy(process_group, session_dir / "logs")


_app_counter = itertools.count()


@pytest.fixture
def app_launcher(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> Iterator[AppLauncher]:
    """Starts our apps through fresh proxies on the session's servers; stops them when the test ends."""
    launcher = AppLauncher(toxiproxy.url, provider, chroma, ProcessGroup(), session_dir / "logs", session_dir / "data")
    try:
        yield launcher
    finally:
        launcher.group.stop_all()


@pytest.fixture
def start_app(app_launcher: AppLauncher) -> Callable[..., AppHandle]:
    """Factory: ``start_app("reference", env={"RAGCHAOS_DISABLE": "cache"})``."""

    def _start(kind: str, *, env: Mapping[str, str] | None = None, name: str | None = None) -> AppHandle:
        n = next(_app_counter)
        key = TEST_KEYS[n % len(TEST_KEYS)]
        name = name or f"{kind}-{key}"
        return app_launcher.launch(name, kind=kind, env={
            "RAGCHAOS_APP_NAME": kind, "RAGCHAOS_PROVIDER_KEY": key,
            "RAGCHAOS_COLLECTION_PREFIX": name.replace("-", ""), **(env or {}),
        })

    return _start
