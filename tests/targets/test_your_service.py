"""The smoke and provider-429-storm scenarios against examples/myrag, a service we did not write,
started by ragchaos from its command with its provider calls through the fault proxy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "examples" / "myrag" / "ragchaos.yaml"


def _start(scenario: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ragchaos", "run", scenario, "--targets", str(TARGETS),
                             "--quick", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)


def _finish(proc: subprocess.Popen[str], out: Path) -> tuple[dict, str]:
    log, _ = proc.communicate(timeout=240)
    assert proc.returncode in (0, 1), log  # 1: the gate failed, still a complete run
    [run_dir] = list(out.iterdir())
    return json.loads((run_dir / "results.json").read_text()), log


def test_smoke_and_429_storm_against_a_users_service(tmp_path: Path) -> None:
    # side by side: each run has its own provider, proxy and myrag on ports of their own
    smoke = _start("smoke", tmp_path / "smoke")
    storm = _start("provider-429-storm", tmp_path / "storm")
    results = {"smoke": _finish(smoke, tmp_path / "smoke"), "storm": _finish(storm, tmp_path / "storm")}

    for name, (result, log) in results.items():
        assert list(result["apps"]) == ["myrag"], name
        assert "every span rule matches" in log
        assert result["run"]["stack"]["proxies"].keys() == {"myrag_provider"}
        app = result["apps"]["myrag"]
        steady = app["phases"]["steady"]
        assert steady["client"]["latency"]["response_time"]["count"] > 0  # end to end, client side
        for stage in ("query.total", "query.embed", "query.retrieve", "query.generate",  # from its spans
                      "provider.embeddings", "provider.chat"):  # from the provider's records
            assert steady["stages"][stage]["count"] > 0, (name, stage, sorted(steady["stages"]))
        assert app["correctness"]["scored"] > 0 and app["correctness"]["hit_at_k"] > 0  # docs[*].id
        assert result["gate"] is not None and result["gate"]["checks"], name

    storm, storm_log = results["storm"]
    fault = storm["apps"]["myrag"]["phases"]["fault"]
    # the injected 429s reached myrag's key at the provider, through the proxy it was handed
    limited = sum(fault["provider"][ep]["rate_limited"] for ep in ("embeddings", "chat"))
    injected = sum(fault["provider"][ep]["faults_injected"] for ep in ("embeddings", "chat"))
    assert limited > 0 and injected > 0, fault["provider"]
    assert [f["target"] for f in storm["faults"]] == ["myrag"] and storm["faults"][0]["error"] is None
    # the scenario's gate and checks about our reference app hold myrag to the same bar
    from ragchaos.scenarios.loader import load_scenario

    # (a line comparing with another app, "<= 0.5x naive", cannot hold without that app in the run)
    # (a mechanism check reads our apps' /metrics: it is not carried over to a user's target)
    ours = [c.check for c in load_scenario("provider-429-storm").checks
            if c.check.startswith("reference.") and "naive" not in c.check and ".mechanism." not in c.check]
    names = [c["name"] for c in storm["gate"]["checks"]]
    assert ours and all(f"myrag.{g.removeprefix('reference.')}" in names for g in ours), (ours, names)
    assert all(c["measured"] not in (None, "") for c in storm["gate"]["checks"])
    # the provider's 429s went through the proxy it was handed: the fault reached it
    assert [f["reach"]["verdict"] for f in storm["faults"]] == ["reached"]
