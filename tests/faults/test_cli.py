"""``ragchaos toxiproxy serve`` and ``python -m ragchaos.faults``: flags, --config, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ragchaos.core.ports import free_port
from ragchaos.core.procs import ManagedProcess, python_module_argv
from ragchaos.faults.client import ToxiproxyClient


@pytest.mark.slow
def test_serve_with_config_loads_proxies(tmp_path, echo):
    listen = f"localhost:{free_port()}"
    config = tmp_path / "populate.json"
    config.write_text(json.dumps([
        {"name": "naive_vectordb", "listen": listen, "upstream": echo.addr},
        {"name": "reference_vectordb", "listen": "127.0.0.1:0", "upstream": echo.addr, "enabled": False},
    ]))
    port = free_port()
    proc = ManagedProcess(
        "toxiproxy", python_module_argv("ragchaos", "toxiproxy", "serve", "--host", "127.0.0.1", "--port", str(port),
                                        "--config", str(config)),
        health_url=f"http://127.0.0.1:{port}/version", log_path=tmp_path / "tp.log",
    )
    try:
        proc.start().wait_healthy(30)
        proxies = ToxiproxyClient(f"http://127.0.0.1:{port}").proxies()
        assert sorted(proxies) == ["naive_vectordb", "reference_vectordb"]
        assert proxies["naive_vectordb"].enabled and proxies["naive_vectordb"].listen.startswith("127.0.0.1:")
        assert not proxies["reference_vectordb"].enabled
    finally:
        assert proc.stop() == 0  # SIGTERM: a clean shutdown


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--config", "/nonexistent/populate.json"], "no such file"),
    ],
)
def test_serve_refuses_bad_flags(args, needle):
    for argv in (python_module_argv("ragchaos", "toxiproxy", "serve", "--port", "1", *args),
                 python_module_argv("ragchaos.faults", "--port", "1", *args)):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result
        assert needle in result.stderr and "Traceback" not in result.stderr


def test_bad_config_names_the_file(tmp_path):
    config = tmp_path / "populate.json"
    config.write_text('{"not": "a list"}')
    result = subprocess.run(
        [sys.executable, "-m", "ragchaos.faults", "serve", "--port", str(free_port()), "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert str(config) in result.stderr and "Traceback" not in result.stderr
