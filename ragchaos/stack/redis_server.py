"""A Redis for tests and development: a private ``redis-server``, else the one on 6379.

The scale-out mode of the reference app (``REDIS_URL``) is tested against a real Redis. Where
the ``redis-server`` binary is on PATH (``.ci/run`` installs Debian's), ``private_redis`` starts
one on a free loopback port, with no persistence, as a ``ManagedProcess`` stopped by its PID.
Otherwise ``acquire_redis`` falls back to ``127.0.0.1:6379`` when it answers PING (shared with
whoever else uses it: callers then keep to their own key prefix and never FLUSH), and otherwise
raises ``RedisUnavailable`` with every reason it tried. The pytest policy (skip locally, fail
under ``CI=true``) lives in tests/scaleout/conftest.py; ``unavailable_outcome`` is its rule.

    python -m ragchaos.stack.redis_server     # a private server for development, until Ctrl-C
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.core.procs import ManagedProcess, ProcessStartError

__all__ = [
    "SHARED_REDIS",
    "RedisHandle",
    "RedisUnavailable",
    "acquire_redis",
    "ping",
    "private_redis",
    "redis_server_argv",
    "shared_from_env",
    "start_private_redis",
    "unavailable_outcome",
]

# the Redis that development and CI machines run (the issue: "Redis at 127.0.0.1:6379")
SHARED_REDIS = (LOOPBACK, 6379)
_PING = b"*1\r\n$4\r\nPING\r\n"


class RedisUnavailable(RuntimeError):
    """No Redis could be started or reached; the message says why for each way tried."""


@dataclass(frozen=True)
class RedisHandle:
    host: str
    port: int
    kind: str  # "private" (ours, on a free port) | "shared" (someone else's, e.g. 6379)
    process: ManagedProcess | None = None
    data_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def stop(self) -> None:
        """Stop our server by its PID; a shared server is left alone."""
        if self.process is not None:
            self.process.stop()
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def ping(host: str, port: int, timeout: float = 1.0) -> str | None:
    """PING over raw RESP: None when the server answers PONG, else why not (one line).

    Raw RESP rather than redis-py so a "why not" (refused, NOAUTH, not Redis) is exact.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_PING)
            reply = sock.recv(256)
    except OSError as exc:
        return f"{host}:{port}: {exc.strerror or exc}"
    if reply.startswith(b"+PONG"):
        return None
    text = reply.decode(errors="replace").strip() or "connection closed without a reply"
    return f"{host}:{port} answered {text!r} to PING"


def redis_server_argv(binary: str, port: int, data_dir: Path) -> list[str]:
    """A loopback-only, throw-away server: no RDB snapshots, no AOF, its own directory."""
    return [
        binary,
        "--bind", LOOPBACK,
        "--port", str(port),
        "--protected-mode", "yes",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(data_dir),
        "--daemonize", "no",
    ]


def start_private_redis(
    log_dir: Path | None = None, *, binary: str | None = None, timeout: float = 20.0, attempts: int = 3
) -> RedisHandle:
    """Start ``redis-server`` on a free loopback port; the caller stops it with ``handle.stop()``.

    Raises ``RedisUnavailable`` when there is no binary or it never answers PING. A port taken
    between ``free_port`` and the bind is retried on another port.
    """
    binary = binary or shutil.which("redis-server")
    if not binary:
        raise RedisUnavailable("no redis-server binary on PATH")
    errors: list[str] = []
    for _ in range(attempts):
        port = free_port()
        data_dir = Path(tempfile.mkdtemp(prefix="ragchaos-redis-"))

        def answers_ping(port: int = port) -> bool:
            return ping(LOOPBACK, port) is None

        proc = ManagedProcess(
            "redis",
            redis_server_argv(binary, port, data_dir),
            health_check=answers_ping,
            log_path=(log_dir / f"redis-{port}.log") if log_dir else None,
        )
        try:
            proc.start()
            proc.wait_healthy(timeout)
        except (ProcessStartError, OSError) as exc:
            proc.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
            errors.append(str(exc).splitlines()[0])
            continue
        return RedisHandle(LOOPBACK, port, "private", proc, data_dir)
    raise RedisUnavailable(f"{binary} did not start: " + "; ".join(errors))


@contextlib.contextmanager
def private_redis(log_dir: Path | None = None, *, binary: str | None = None) -> Iterator[RedisHandle]:
    """``start_private_redis`` for a ``with`` block: stopped (by PID) when the block ends."""
    handle = start_private_redis(log_dir, binary=binary)
    try:
        yield handle
    finally:
        handle.stop()


@contextlib.contextmanager
def acquire_redis(
    log_dir: Path | None = None, *, binary: str | None = None, shared: tuple[str, int] | None = SHARED_REDIS
) -> Iterator[RedisHandle]:
    """A private server if we can start one, else the shared one if it answers, else raise."""
    reasons: list[str] = []
    handle: RedisHandle | None = None
    try:
        handle = start_private_redis(log_dir, binary=binary)
    except RedisUnavailable as exc:
        reasons.append(f"private: {exc}")
    if handle is None and shared is not None:
        why = ping(*shared)
        if why is None:
            handle = RedisHandle(shared[0], shared[1], "shared")
        else:
            reasons.append(f"shared: {why}")
    if handle is None:
        raise RedisUnavailable("no Redis available (" + "; ".join(reasons) + ")")
    try:
        yield handle
    finally:
        handle.stop()


def shared_from_env(value: str | None) -> tuple[str, int] | None:
    """``RAGCHAOS_REDIS_FALLBACK``: ``host:port`` of the shared Redis, ``none`` for no fallback."""
    if not value:
        return SHARED_REDIS
    if value.strip().lower() == "none":
        return None
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"RAGCHAOS_REDIS_FALLBACK={value!r}: expected host:port or none")
    return host, int(port)


def unavailable_outcome(reason: str, *, ci: bool) -> tuple[str, str]:
    """What a test does without Redis: ("skip", why) locally, ("fail", why) in CI.

    In CI the Redis path must really run, so a missing Redis is a failure there, not a skip.
    """
    if ci:
        return "fail", f"CI=true and {reason}: the Redis tests must run in CI (install redis-server)"
    return "skip", reason


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with private_redis() as handle:
            print(f"REDIS_URL={handle.url}  (pid {handle.process.pid if handle.process else '?'}; Ctrl-C stops it)",
                  flush=True)
            stop.wait()
    except RedisUnavailable as exc:
        print(f"ragchaos: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
