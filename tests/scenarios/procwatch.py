"""Find the processes a command started (by an environment marker they inherit) and their ports."""

from __future__ import annotations

import os
from pathlib import Path

MARK = "RAGCHAOS_TEST_MARK"


def marked_pids(mark: str) -> list[int]:
    """Every live process whose environment carries ``MARK=mark`` (children inherit it)."""
    needle = f"{MARK}={mark}".encode()
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if needle in env.split(b"\0") and ") Z " not in stat:  # zombies hold nothing
            out.append(int(entry.name))
    return out


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports in LISTEN state whose socket belongs to one of ``pids``."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    return {port for port, inode in _listeners() if inode in inodes}


def _listeners() -> list[tuple[int, str]]:
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                out.append((int(fields[1].rsplit(":", 1)[1], 16), fields[9]))
    return out


def listening(ports: set[int]) -> set[int]:
    """Which of ``ports`` anything at all still listens on."""
    return {port for port, _ in _listeners() if port in ports}
