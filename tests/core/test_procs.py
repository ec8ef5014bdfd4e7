import os
import socket
import sys

import pytest

from ragchaos.core.ports import free_port, is_loopback_host
from ragchaos.core.procs import ManagedProcess, ProcessGroup, ProcessStartError


def test_loopback_check() -> None:
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("127.5.0.1")
    assert is_loopback_host("localhost")
    assert is_loopback_host("::1")
    assert not is_loopback_host("10.0.0.1")
    assert not is_loopback_host("example.com")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); read its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_group_starts_healthy_and_stops_every_process(tmp_path) -> None:
    port = free_port()
    server = ManagedProcess(
        "http",
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health_url=f"http://127.0.0.1:{port}/",
        log_path=tmp_path / "http.log",
        cwd=tmp_path,
    )
    with ProcessGroup() as group:
        group.start(server, timeout=20)
        pid = server.pid
        assert pid is not None and _pid_alive(pid)
    assert not _pid_alive(pid)
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0


def test_early_exit_reports_log_tail(tmp_path) -> None:
    proc = ManagedProcess(
        "bad",
        [sys.executable, "-c", "import sys; print('cannot start: port taken'); sys.exit(3)"],
        health_url="http://127.0.0.1:1/",
        log_path=tmp_path / "bad.log",
    )
    with pytest.raises(ProcessStartError, match="port taken"):
        ProcessGroup().start(proc, timeout=10)
