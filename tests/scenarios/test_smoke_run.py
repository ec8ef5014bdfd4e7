"""``ragchaos run smoke``: the whole path, end to end, in under a minute (the CI scenario)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_run_smoke_writes_a_complete_run_folder(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", "smoke", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=180)
    took = time.monotonic() - started
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: the gate failed, still a run
    [run_dir] = list(tmp_path.iterdir())
    assert run_dir.name.startswith("smoke-")
    result = json.loads((run_dir / "results.json").read_text())
    assert result["schema_version"] == 1 and result["scenario"]["name"] == "smoke"
    assert {p["name"] for p in result["phases"]} >= {"steady", "fault", "recovery"}
    [fault_a, fault_b] = result["faults"]
    assert fault_a["applied_at_s"] is not None and fault_a["reverted_at_s"] > fault_a["applied_at_s"]
    for app in ("naive", "reference"):
        phases = result["apps"][app]["phases"]
        total = sum(p["client"]["requests"] for p in phases.values())
        # 15 s at 3 req/s, constant arrivals: 45 requests, every one with an outcome
        assert total == 45, (app, total)
        steady = phases["steady"]
        assert steady["client"]["latency"]["response_time"]["hdr"]
        if app == "reference":  # it measures itself
            assert "query.total" in steady["stages"] and steady["counters"]
        else:  # the naive app does not: its stages are its calls, timed at the fault proxy
            assert not steady["counters"] and "query.total" not in steady["stages"]
            assert {"proxy.provider.embeddings", "proxy.provider.chat", "proxy.vectordb.query"} <= set(steady["stages"])
        assert result["apps"][app]["provider_attempts"]["all"]["per_answer"] > 0
        assert steady["provider"]["chat"]["requests"] > 0
        assert result["apps"][app]["correctness"]["scored"] > 0
    for name in ("report.html", "summary.md", "junit.xml"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "logs" / "provider.log").exists()
    live = [line for line in proc.stdout.splitlines() if line.startswith("[") and "req/s" in line]
    assert live and "naive:" in live[0] and "reference:" in live[0], proc.stdout  # the live view
    assert took < 120, f"smoke took {took:.0f}s"


def test_run_smoke_with_two_locust_workers_merges_every_request(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", "smoke", "--out", str(tmp_path), "--workers", "2"],
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    [run_dir] = list(tmp_path.iterdir())
    result = json.loads((run_dir / "results.json").read_text())
    assert result["run"]["workers"] == 2
    for app in ("naive", "reference"):
        phases = result["apps"][app]["phases"].values()
        # the two workers split the one seeded plan; the master's merged recorder has all of it
        assert sum(p["client"]["requests"] for p in phases) == 45
        assert sum(p["client"]["latency"]["response_time"]["count"] for p in phases) == 45
    assert (run_dir / "logs" / "locust-worker-0.log").exists() and (run_dir / "logs" / "locust-worker-1.log").exists()
