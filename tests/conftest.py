"""Shared fixtures: the real servers, started once per test session on loopback.

- ``provider``: the simulated provider process (an ``Endpoint``); it knows the keys
  ``naive``, ``reference``, ``test`` and ``key-001`` … ``key-200`` (one per app a test starts).
- ``chroma``: a real Chroma server process.
- ``toxiproxy``: a Toxiproxy API (the real one if ``TOXIPROXY_URL`` is set, else ours).
- ``start_app``: starts one of our apps wired through fresh proxies, with its own provider key
  and collections, and stops it when the test ends.

Every process is stopped by PID at the end of the session (``ProcessGroup``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ragchaos.procs import ManagedProcess, ProcessGroup
from ragchaos.stack import (
    Endpoint,
    ToxiproxyHandle,
    app_env,
    create_proxy,
    start_chroma,
    start_provider,
    start_toxiproxy,
)
from ragchaos.stack import (
    start_app as _start_app,
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


@dataclass
class AppHandle:
    """One app process started for a test, and the proxies in front of its dependencies."""

    name: str  # also its provider key, its collection prefix and its proxies' prefix
    kind: str  # naive | reference
    endpoint: Endpoint
    process: ManagedProcess
    proxies: dict[str, str]  # "provider" | "vectordb" -> proxy name
    env: dict[str, str]

    @property
    def url(self) -> str:
        return self.endpoint.url


_app_counter = itertools.count()


@pytest.fixture
def start_app(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> Iterator[Callable[..., AppHandle]]:
    """Factory: ``start_app("reference", env={"RAGCHAOS_DISABLE": "cache"})``."""
    group = ProcessGroup()

    def _start(kind: str, *, env: Mapping[str, str] | None = None, name: str | None = None) -> AppHandle:
        n = next(_app_counter)
        key = TEST_KEYS[n % len(TEST_KEYS)]
        name = name or f"{kind}-{key}"
        proxy_names = {"provider": f"{name}_provider", "vectordb": f"{name}_vectordb"}
        provider_proxy = create_proxy(toxiproxy.url, proxy_names["provider"], provider)
        vectordb_proxy = create_proxy(toxiproxy.url, proxy_names["vectordb"], chroma)
        full_env = app_env(
            name, provider_proxy, vectordb_proxy, session_dir / "data" / name,
            {"RAGCHAOS_APP_NAME": kind, "RAGCHAOS_PROVIDER_KEY": key, "RAGCHAOS_COLLECTION_PREFIX": name.replace("-", ""), **(env or {})},
        )
        proc, endpoint = _start_app(group, session_dir / "logs", name, full_env, kind=kind)
        return AppHandle(name, kind, endpoint, proc, proxy_names, full_env)

    try:
        yield _start
    finally:
        group.stop_all()
