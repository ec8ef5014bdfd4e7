"""Fixtures for the scale-out tests: a real Redis.

``redis_server`` (session): a private ``redis-server`` on a free loopback port when the binary
is on PATH, else 127.0.0.1:6379 when it answers PING. Without either, the test is skipped with
the reason printed, except under ``CI=true``, where it FAILS: CI installs redis-server, so the
Redis path is always really tested there. ``redis_prefix`` gives each test its own key prefix,
because the fallback server is shared and must never be flushed. ``RAGCHAOS_REDIS_FALLBACK``
(``host:port`` or ``none``) changes or removes the fallback.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ragchaos.redis_server import (
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
