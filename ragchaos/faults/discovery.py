"""Which Toxiproxy a run uses: a real one when there is one, else the built-in one.

Order: ``TOXIPROXY_URL`` (a running server, used as is) → ``toxiproxy-server`` on PATH (started
by us) → the built-in proxy (``python -m ragchaos.faults``, started by us). The returned handle says
which (``kind``: ``"real"`` or ``"builtin"``) so the run can record it, and stops what we started.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragchaos.core.ports import LOOPBACK, free_port
from ragchaos.core.procs import ManagedProcess, ProcessGroup, ProcessStartError, python_module_argv
from ragchaos.faults.client import ToxiproxyClient

__all__ = ["FaultProxyHandle", "discover", "start_builtin"]


@dataclass
class FaultProxyHandle:
    url: str
    kind: str  # "real" | "builtin"
    process: ManagedProcess | None = None

    @property
    def client(self) -> ToxiproxyClient:
        return ToxiproxyClient(self.url)

    def stop(self) -> None:
        """Stop the server if we started it (a TOXIPROXY_URL server is left alone)."""
        if self.process is not None:
            self.process.stop()


def _start(argv_for_port: Callable[[int], list[str]], name: str, log_dir: Path | None, group: ProcessGroup | None,
           attempts: int = 3) -> tuple[ManagedProcess, int]:
    last: Exception | None = None
    for _ in range(attempts):  # a free port can be taken between asking and binding
        port = free_port()
        proc = ManagedProcess(
            name, argv_for_port(port), health_url=f"http://{LOOPBACK}:{port}/version",
            log_path=None if log_dir is None else log_dir / "toxiproxy.log",
        )
        try:
            if group is not None:
                group.start(proc, timeout=30)
            else:
                proc.start().wait_healthy(30)
            return proc, port
        except ProcessStartError as exc:
            proc.stop()
            if group is not None and proc in group.processes:
                group.processes.remove(proc)
            last = exc
    raise ProcessStartError(f"could not start {name}: {last}")


def start_builtin(log_dir: Path | None = None, group: ProcessGroup | None = None) -> FaultProxyHandle:
    proc, port = _start(
        lambda port: python_module_argv("ragchaos.faults", "serve", "--host", LOOPBACK, "--port", str(port)),
        "toxiproxy-builtin", log_dir, group,
    )
    return FaultProxyHandle(f"http://{LOOPBACK}:{port}", "builtin", proc)


def discover(
    log_dir: Path | None = None, group: ProcessGroup | None = None, *, url: str | None = None,
    prefer_builtin: bool = False,
) -> FaultProxyHandle:
    """A Toxiproxy API to use; processes we start join ``group`` when given."""
    url = url or os.environ.get("TOXIPROXY_URL")
    if url and not prefer_builtin:
        return FaultProxyHandle(url.rstrip("/"), "real")
    binary = shutil.which("toxiproxy-server")
    if binary and not prefer_builtin:
        proc, port = _start(
            lambda port: [binary, "-host", LOOPBACK, "-port", str(port)], "toxiproxy-server", log_dir, group
        )
        return FaultProxyHandle(f"http://{LOOPBACK}:{port}", "real", proc)
    return start_builtin(log_dir, group)
