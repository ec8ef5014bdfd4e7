"""The smoke scenario's checks stand on the mechanisms they rely on (issue 17): with the
reference app's retries and cache switched off, its run fails, whatever the error rate was."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REQUIRING = "reference.fault.error_rate <= 10%"


def _smoke(tmp_path: Path, disable: str | None) -> tuple[int, dict, Path]:
    env = {k: v for k, v in os.environ.items() if k != "RAGCHAOS_DISABLE"}
    if disable:
        env["RAGCHAOS_DISABLE"] = disable  # inherited by the apps the run starts
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", "smoke", "--apps", "reference", "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=180, env=env)
    [run_dir] = list(tmp_path.iterdir())
    result = json.loads((run_dir / "results.json").read_text())
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return proc.returncode, result, run_dir


def _verdict(result: dict) -> dict:
    return next(c for c in result["gate"]["checks"] if c["expr"] == REQUIRING)


def test_smoke_fails_with_retries_and_cache_off(tmp_path: Path) -> None:
    rc, result, run_dir = _smoke(tmp_path / "off", "retries,cache")
    assert {"cache", "retries"} <= set(result["apps"]["reference"]["mechanisms_off"])
    verdict = _verdict(result)
    assert rc == 1 and verdict["status"] == "fail" and not result["gate"]["passed"]
    assert "relies on retries, cache, switched off" in verdict["reason"]
    # the switches in effect are in the report's header and in summary.md's first section
    header = (run_dir / "report.html").read_text().split("</header>")[0]
    assert "reference mechanisms OFF: " in header and "retries" in header and "cache" in header
    assert "mechanisms switched off" in (run_dir / "summary.md").read_text()
    # with them on, the same check is judged on its figure (and the app says nothing is off)
    rc_on, result_on, run_dir_on = _smoke(tmp_path / "on", None)
    assert result_on["apps"]["reference"]["mechanisms_off"] == []
    assert "switched off" not in _verdict(result_on)["reason"]
    assert "mechanisms OFF" not in (run_dir_on / "report.html").read_text().split("</header>")[0]
