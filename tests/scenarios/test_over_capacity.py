"""An open-model run that cannot deliver its load says so in every output (issue 17).

20 arrivals a second with at most 2 outstanding against an app whose answer takes ~400 ms (the
provider's chat latency model): most arrivals are dropped at the load generator. The headline of
the terminal, results.json, report.html, summary.md and junit.xml must show the drops apart
from the app's errors, and the run must fail its own validity check (exit code 1)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCENARIO = """\
name: over-capacity
description: more arrivals than max_in_flight lets out
seed: 3
duration: 6s
request_timeout: 5s
corpus: {tenants: 1, documents_per_tenant: 6, words_per_document: 40}
workload: {query_ratio: 1.0, questions: 20}
load:
  kind: arrivals
  arrivals: constant
  max_in_flight: 2
  stages:
    - {duration: 6s, rate: 20}
"""


def test_dropped_arrivals_are_in_every_headline_and_fail_the_run(tmp_path: Path) -> None:
    scenario = tmp_path / "over-capacity.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", str(scenario), "--apps", "naive", "--out",
                           str(out)], capture_output=True, text=True, timeout=180)
    [run_dir] = list(out.iterdir())
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the validity check fails the run

    result = json.loads((run_dir / "results.json").read_text())
    client = [p["client"] for p in result["apps"]["naive"]["phases"].values()]
    sent, dropped = sum(c["requests"] for c in client), sum(c["dropped"] for c in client)
    assert sent + dropped == 120  # 6 s at 20/s, constant arrivals: every arrival is sent or dropped
    assert dropped > 60, (sent, dropped)
    [validity] = [c for c in result["gate"]["checks"] if c["metric"] == "load_delivery"]
    assert validity["status"] == "fail" and not result["gate"]["passed"]
    assert f"dropped {dropped} of 120 arrivals" in validity["reason"]
    outcomes = [p["outcomes"] for p in result["apps"]["naive"]["phases"].values()]
    assert sum(o["dropped"] for o in outcomes) == dropped
    assert sum(o["ok"] + (o["degraded"] or 0) + o["error"] + o["dropped"] for o in outcomes) == 120

    assert "RUN NOT VALID" in proc.stdout and f"dropped {dropped} (" in proc.stdout
    for name in ("summary.md", "report.html"):
        text = (run_dir / name).read_text()
        start = text.index('id="headline"') if name.endswith(".html") else 0
        headline = text[start: text.index('id="gate"' if name.endswith(".html") else "## Checks")]
        assert "dropped by the load generator (run failure)" in headline, name
        assert f"{dropped} (" in headline and "RUN NOT VALID" in headline, name
        assert "failed: app errors + dropped, of scheduled" in headline, name
    junit = ET.parse(run_dir / "junit.xml").getroot()
    [suite] = [s for s in junit.iter("testsuite") if s.get("name") == "ragchaos.validity"]
    [case] = [c for c in suite.iter("testcase") if c.get("name") == "load delivered: naive"]
    assert case.find("failure") is not None
