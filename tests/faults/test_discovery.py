"""Which Toxiproxy a run uses: TOXIPROXY_URL → toxiproxy-server on PATH → the built-in one."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from ragchaos.core.procs import ProcessGroup
from ragchaos.faults.discovery import discover


def test_toxiproxy_url_is_used_as_is(monkeypatch, toxiproxy):
    monkeypatch.setenv("TOXIPROXY_URL", toxiproxy.url + "/")
    handle = discover()
    assert (handle.url, handle.kind, handle.process) == (toxiproxy.url, "real", None)
    assert handle.client.version() == "2.12.0"


@pytest.mark.slow
def test_builtin_when_nothing_else(monkeypatch, tmp_path):
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no toxiproxy-server anywhere
    with ProcessGroup() as group:
        handle = discover(tmp_path, group)
        assert handle.kind == "builtin" and handle.process is not None and handle.process.alive()
        assert handle.client.reachable()
    assert not handle.process.alive()


@pytest.mark.slow
def test_toxiproxy_server_on_path_is_started_as_the_real_one(monkeypatch, tmp_path):
    # a stand-in binary that takes toxiproxy-server's flags (-host, -port) and runs our server
    binary = tmp_path / "toxiproxy-server"
    binary.write_text(
        f"#!/bin/sh\nexec {sys.executable} -m ragchaos.faults serve --host \"$2\" --port \"$4\"\n"
    )
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("TOXIPROXY_URL", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    with ProcessGroup() as group:
        handle = discover(tmp_path, group)
        assert handle.kind == "real" and handle.process is not None
        assert handle.process.argv[0] == str(binary)
        assert handle.client.reachable()
    assert not handle.process.alive()
