"""The Redis helper: a private server really starts, answers, and is gone after stop."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator

import pytest
import redis

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.stack.redis_server import (
    RedisHandle,
    RedisUnavailable,
    acquire_redis,
    ping,
    redis_server_argv,
    start_private_redis,
    unavailable_outcome,
)

CI = os.environ.get("CI", "").lower() == "true"


def _need_binary() -> None:
    if shutil.which("redis-server") is None:
        action, why = unavailable_outcome("no redis-server binary on PATH", ci=CI)
        if action == "fail":
            pytest.fail(why, pytrace=False)
        pytest.skip(why)


def _pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] == "Z"
    except FileNotFoundError:
        return True


def _port_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((LOOPBACK, port)) != 0


@pytest.fixture
def private() -> Iterator[RedisHandle]:
    _need_binary()
    handle = start_private_redis()
    try:
        yield handle
    finally:
        handle.stop()


def test_private_server_answers_then_is_gone(private: RedisHandle) -> None:
    assert private.kind == "private" and private.host == LOOPBACK
    assert ping(private.host, private.port) is None
    client = redis.Redis.from_url(private.url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()
    pid = private.process.pid if private.process else None
    assert pid is not None
    private.stop()
    assert _pid_gone(pid)
    assert _port_closed(private.port)
    assert ping(private.host, private.port) is not None
    assert private.data_dir is not None and not private.data_dir.exists()


def test_argv_is_loopback_only_and_keeps_nothing(tmp_path) -> None:
    argv = redis_server_argv("/usr/bin/redis-server", 7001, tmp_path)
    opts = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert opts["--bind"] == "127.0.0.1"
    assert opts["--port"] == "7001"
    assert opts["--save"] == "" and opts["--appendonly"] == "no"
    assert opts["--dir"] == str(tmp_path)


def test_ping_says_why_on_a_closed_port() -> None:
    why = ping(LOOPBACK, free_port())
    assert why is not None and "refused" in why.lower()


def test_ping_says_why_when_something_else_answers() -> None:
    srv = socket.socket()
    srv.bind((LOOPBACK, 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def answer() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.recv(64)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    try:
        why = ping(LOOPBACK, port)
    finally:
        t.join(5)
        srv.close()
    assert why is not None and "HTTP/1.1 400" in why


def test_acquire_falls_back_to_a_shared_server_and_leaves_it_running(private: RedisHandle) -> None:
    with acquire_redis(binary="/nonexistent/redis-server", shared=(private.host, private.port)) as handle:
        assert handle.kind == "shared" and handle.port == private.port
        assert handle.process is None
    # a shared server is someone else's: still answering after we are done with it
    assert ping(private.host, private.port) is None


def test_acquire_without_any_redis_says_every_reason() -> None:
    with pytest.raises(RedisUnavailable) as info, acquire_redis(
        binary="/nonexistent/redis-server", shared=(LOOPBACK, free_port())
    ):
        pass
    msg = str(info.value)
    assert "private:" in msg and "/nonexistent/redis-server" in msg
    assert "shared:" in msg and "refused" in msg.lower()


def test_acquire_prefers_a_private_server_and_stops_it() -> None:
    _need_binary()
    with acquire_redis(shared=None) as handle:
        assert handle.kind == "private"
        port = handle.port
        assert ping(LOOPBACK, port) is None
    assert _port_closed(port)


def test_missing_redis_skips_locally_and_fails_in_ci() -> None:
    assert unavailable_outcome("no redis", ci=False) == ("skip", "no redis")
    action, why = unavailable_outcome("no redis", ci=True)
    assert action == "fail" and "CI=true" in why and "no redis" in why


def test_session_fixture_gives_a_working_redis(redis_server: RedisHandle, redis_prefix: str) -> None:
    client = redis.Redis.from_url(redis_server.url)
    key = f"{redis_prefix}n"
    try:
        assert client.incr(key) == 1
        assert client.incr(key) == 2
    finally:
        client.delete(key)
        client.close()


def test_fallback_setting_is_parsed() -> None:
    from ragchaos.stack.redis_server import SHARED_REDIS, shared_from_env

    assert shared_from_env(None) == SHARED_REDIS
    assert shared_from_env("none") is None
    assert shared_from_env("127.0.0.1:6380") == ("127.0.0.1", 6380)
    with pytest.raises(ValueError, match="RAGCHAOS_REDIS_FALLBACK"):
        shared_from_env("6380")


_INNER_TEST = """
def test_uses_redis(redis_server):
    assert redis_server.port > 0
"""


@pytest.mark.parametrize(("ci", "expected"), [("true", "1 error"), ("", "1 skipped")])
def test_fixture_without_redis_fails_in_ci_and_skips_elsewhere(tmp_path, ci, expected) -> None:
    """The real fixture in an inner pytest run, with no redis-server on PATH and no fallback."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "conftest.py").write_text(Path(__file__).with_name("conftest.py").read_text())
    (tmp_path / "test_inner.py").write_text(_INNER_TEST)
    env = {**os.environ, "PATH": str(tmp_path), "RAGCHAOS_REDIS_FALLBACK": "none", "CI": ci}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rsE", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert expected in out, out
    assert "no redis-server binary on PATH" in out, out
    if ci == "true":
        assert proc.returncode != 0 and "CI=true" in out, out
    else:
        assert proc.returncode == 0, out


def test_dev_command_serves_until_sigterm_then_stops_its_server(tmp_path) -> None:
    """``python -m ragchaos.stack.redis_server``: prints REDIS_URL, and SIGTERM stops both processes."""
    import re
    import time

    from ragchaos.core.procs import ManagedProcess, python_module_argv

    _need_binary()
    log = tmp_path / "dev.log"
    found: dict[str, int] = {}

    def announced() -> bool:
        m = re.search(r"REDIS_URL=redis://127\.0\.0\.1:(\d+)/0 +\(pid (\d+);", log.read_text() if log.exists() else "")
        if m:
            found.update(port=int(m.group(1)), pid=int(m.group(2)))
        return bool(m)

    proc = ManagedProcess("redis-dev", python_module_argv("ragchaos.stack.redis_server"), health_check=announced,
                          log_path=log)
    try:
        proc.start().wait_healthy(30)
        assert ping(LOOPBACK, found["port"]) is None
    finally:
        code = proc.stop(grace=10)
    assert code == 0, log.read_text()
    deadline = time.monotonic() + 10
    while not (_pid_gone(found["pid"]) and _port_closed(found["port"])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pid_gone(found["pid"]) and _port_closed(found["port"])
