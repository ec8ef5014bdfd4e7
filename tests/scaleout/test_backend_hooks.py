"""The runner's hooks for the docker backend: ``ragchaos run --backend docker`` without an engine,
and ``StackConfig.chroma`` (an external Chroma, as the docker backend provides) used as is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from ragchaos.stack.local import Endpoint, Stack, StackConfig


def test_run_with_the_docker_backend_and_no_engine_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'missing.sock'}"}
    proc = subprocess.run(
        [sys.executable, "-m", "ragchaos", "run", "smoke", "--backend", "docker", "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr
    assert len(errors) == 1 and "no Docker engine reachable" in errors[0], proc.stderr
    assert "without --backend docker" in errors[0]


def test_an_unknown_backend_is_refused_by_the_parser(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", "smoke", "--backend", "kubernetes"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "invalid choice: 'kubernetes'" in proc.stderr


def test_stack_uses_an_external_chroma_instead_of_starting_one(tmp_path: Path, chroma: Endpoint) -> None:
    with Stack(StackConfig(run_dir=tmp_path, apps=["reference"], chroma=chroma)).start() as stack:
        assert stack.chroma == chroma
        assert not (tmp_path / "logs" / "chroma.log").exists()  # no Chroma process of its own
        assert stack.toxiproxy is not None
        proxy = httpx.get(f"{stack.toxiproxy.url}/proxies/reference_vectordb", timeout=10).json()
        assert proxy["upstream"] == f"{chroma.host}:{chroma.port}"
        assert httpx.get(f"{stack.apps['reference'].url}/readyz", timeout=10).status_code == 200


def test_the_cli_offers_exactly_the_docker_modules_backends() -> None:
    from ragchaos.cli import build_parser
    from ragchaos.stack.docker_backend import BACKENDS

    parser = build_parser()
    for backend in BACKENDS:
        assert parser.parse_args(["run", "smoke", "--backend", backend]).backend == backend
    assert parser.parse_args(["run", "smoke"]).backend == "local"
