"""Start server processes on loopback and stop every one of them, by PID.

Every server ragchaos runs (provider, fault proxy, Chroma, the apps) is a child process in a
session of its own, so stopping it stops whatever it spawned (uvicorn workers, Chroma's
threads) and nothing else. ``ProcessGroup`` stops its processes in reverse start order on
exit, on error and on SIGINT/SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ManagedProcess", "ProcessGroup", "ProcessStartError", "python_module_argv"]

# between SIGTERM and SIGKILL for a process that does not drain (provider, proxy, Chroma)
DEFAULT_STOP_GRACE_S = 5.0
# what an app does after its drain grace: lifespan shutdown (ingest workers cancelled, clients
# and stores closed) and the interpreter's exit


class ProcessStartError(RuntimeError):
    """A managed process exited early or never became healthy."""


def python_module_argv(module: str, *args: str) -> list[str]:
    """argv that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


@dataclass
class ManagedProcess:
    """One child process with a health check.

    ``health_url`` is polled until it answers 2xx; alternatively ``health_check`` is called
    until it returns True. Output goes to ``log_path`` (or is discarded). ``stop_grace_s`` is
    how long ``stop`` waits after SIGTERM before SIGKILL: a server that drains in-flight
    requests on SIGTERM is given its own drain grace (``drain_stop_grace``).
    """

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    health_url: str | None = None
    health_check: Callable[[], bool] | None = None
    log_path: Path | None = None
    cwd: Path | None = None
    stop_grace_s: float = DEFAULT_STOP_GRACE_S
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> ManagedProcess:
        env = {**os.environ, **(self.env or {})}
        env.setdefault("PYTHONUNBUFFERED", "1")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
        else:
            out = subprocess.DEVNULL  # type: ignore[assignment]  # Popen takes a file or DEVNULL alike
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                env=env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop it and its children together
            )
        finally:
            if self.log_path is not None:
                out.close()
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_healthy(self, timeout: float = 30.0) -> ManagedProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ProcessStartError(f"{self.name} exited with code {self.popen and self.popen.returncode}"
                                        f"{self._log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.05)
        raise ProcessStartError(f"{self.name} not healthy after {timeout:.0f}s{self._log_tail()}")

    def _healthy(self) -> bool:
        if self.health_check is not None:
            try:
                return bool(self.health_check())
            except Exception:
                return False
        if self.health_url is None:
            return True
        try:
            with urllib.request.urlopen(self.health_url, timeout=1.0) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n--- last log lines ---\n" + "\n".join(tail)

    def stop(self, grace: float | None = None) -> int | None:
        """SIGTERM the process group, wait ``grace`` seconds (default: its ``stop_grace_s``), then SIGKILL it."""
        if self.popen is None:
            return None
        grace = self.stop_grace_s if grace is None else grace
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=5.0)
        # children that outlived the leader still belong to its group
        self._signal_group(signal.SIGKILL)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL the leader only (for crash tests)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=5.0)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)  # pgid == pid: start_new_session made it the leader


class ProcessGroup:
    """Processes started together and stopped together, last started first stopped."""

    def __init__(self) -> None:
        self.processes: list[ManagedProcess] = []

    def start(self, proc: ManagedProcess, timeout: float = 30.0) -> ManagedProcess:
        self.processes.append(proc)
        proc.start()
        proc.wait_healthy(timeout)
        return proc

    def stop_all(self, grace: float | None = None) -> None:
        """Stop each process, last first, with ``grace`` or (default) the process's own: the apps,
        started last, drain while the provider and proxies they call are still up."""
        while self.processes:
            self.processes.pop().stop(grace)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    @contextlib.contextmanager
    def signals_stop(self) -> Iterator[None]:
        """Turn SIGTERM into KeyboardInterrupt so ``with`` blocks unwind and stop everything."""

        def _raise(signum: int, frame: object) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        previous = signal.signal(signal.SIGTERM, _raise)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
