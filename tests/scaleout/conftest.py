"""Fixtures for the scale-out tests: a real Redis.

``redis_server`` (session): a private ``redis-server`` on a free loopback port when the binary
is on PATH, else 127.0.0.1:6379 when it answers PING. Without either, the test is skipped with
the reason printed, except under ``CI=true``, where it FAILS: CI installs redis-server, so the
Redis path is always really tested there. ``redis_prefix`` gives each test its own key prefix,
because the fallback server is shared and must never be flushed. ``RAGCHAOS_REDIS_FALLBACK``
(``host:port`` or ``none``) changes or removes the fallback.

``reference_fleet`` starts reference-app replicas as separate processes sharing one provider
key, one pair of proxies, one collection prefix and the Redis above (for the two-replica
tests of the Redis-backed reference app), each through the shared ``app_launcher``.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ragchaos.core.procs import ManagedProcess
from ragchaos.stack.local import AppHandle, AppLauncher, Endpoint
from ragchaos.stack.redis_server import (
    RedisHandle,
    RedisUnavailable,
    acquire_redis,
    shared_from_env,
    unavailable_outcome,
)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisHandle]:
    log_dir: Path = tmp_path_factory.mktemp("redis-logs")
    try:
        ctx = acquire_redis(log_dir, shared=shared_from_env(os.environ.get("RAGCHAOS_REDIS_FALLBACK")))
        handle = ctx.__enter__()
    except RedisUnavailable as exc:
        action, why = unavailable_outcome(str(exc), ci=os.environ.get("CI", "").lower() == "true")
        if action == "fail":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    try:
        yield handle
    finally:
        ctx.__exit__(None, None, None)


@pytest.fixture
def redis_url(redis_server: RedisHandle) -> str:
    return redis_server.url


@pytest.fixture
def redis_prefix() -> str:
    return f"ragchaos-test:{uuid.uuid4().hex[:12]}:"


@dataclass
class Fleet:
    """Reference-app replicas: separate processes, one app as the world sees it.

    They share what replicas of one service share: the provider key (one rate budget), the
    collection prefix (one vector store) and ``REDIS_URL``; by default also the proxies in
    front of the provider and Chroma (a fault hits all of them). With ``own_proxies`` each
    replica has its own pair, so a fault can hit one replica's network path only. Each has
    its own port and data directory.
    """

    name: str
    apps: list[AppHandle]
    env: dict[str, str]  # what the replicas share, on top of ``app_env``

    @property
    def replicas(self) -> list[Endpoint]:
        return [a.endpoint for a in self.apps]

    @property
    def processes(self) -> list[ManagedProcess]:
        return [a.process for a in self.apps]

    @property
    def proxies(self) -> list[dict[str, str]]:
        """Per replica: "provider" | "vectordb" -> proxy name."""
        return [a.proxies for a in self.apps]


_fleets = itertools.count()


@pytest.fixture
def reference_fleet(app_launcher: AppLauncher, redis_server: RedisHandle) -> Callable[..., Fleet]:
    """Factory: ``reference_fleet(2, env={...})`` starts N reference replicas on the real Redis."""

    def _start(n: int = 2, *, env: Mapping[str, str] | None = None, own_proxies: bool = False) -> Fleet:
        name = f"fleet{next(_fleets)}x{uuid.uuid4().hex[:6]}"
        shared = {
            "RAGCHAOS_APP_NAME": "reference",
            # the provider's own key for the reference app; no other test fixture hands it out
            "RAGCHAOS_PROVIDER_KEY": "reference",
            "RAGCHAOS_COLLECTION_PREFIX": name,
            "REDIS_URL": redis_server.url,
            **(env or {}),
        }
        one_path = None if own_proxies else app_launcher.wire(name)
        apps = [app_launcher.launch(f"{name}-{i}", kind="reference", env=shared,
                                    wiring=one_path or app_launcher.wire(f"{name}r{i}"))
                for i in range(n)]
        return Fleet(name, apps, shared)

    return _start
