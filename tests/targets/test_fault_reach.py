"""The fault-reach verdict: a fault whose proxy carried none of the target's calls while the target
answered requests fails the run, naming the dependency and how to wire it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ragchaos.scenarios.reach import ReachInput, judge_reach, wiring_hint

ROOT = Path(__file__).resolve().parents[2]


def _input(**kw: object) -> ReachInput:
    base = dict(fault="brownout", app="svc", dependency="vectordb", proxy="svc_vectordb", proxy_addr="127.0.0.1:4000",
                applied_s=10.0, reverted_s=20.0, end_s=30.0, down=False, provider=False, measured=True)
    return ReachInput(**{**base, **kw})  # type: ignore[arg-type]  # mixed-type overrides, checked by the dataclass fields


def test_calls_in_the_window_reach() -> None:
    seen: list[tuple[float, float]] = []

    def activity(a: float, b: float) -> tuple[int, int]:
        seen.append((a, b))
        return (3, 0)

    r = judge_reach(_input(), activity, lambda a, b: 12)
    assert r.verdict == "reached" and r.calls == 3 and seen == [(10.0, 20.0)]


def test_nothing_through_the_proxy_while_serving_is_a_miss_that_says_how_to_wire() -> None:
    hint = wiring_hint("svc", "vectordb", started=True, provider=False, addr="127.0.0.1:4000")
    r = judge_reach(_input(), lambda a, b: (0, 0), lambda a, b: 40, hint=hint)
    assert r.verdict == "missed"
    assert "fault 'brownout' did not reach svc: its proxy svc_vectordb (127.0.0.1:4000) carried no call" in r.message
    assert "while svc answered 40 requests" in r.message and "{vectordb.host}" in r.message


def test_no_answers_no_timing_or_never_applied_are_not_judged() -> None:
    assert judge_reach(_input(), lambda a, b: (0, 0), lambda a, b: 0).verdict == "not judged"
    off = judge_reach(_input(measured=False, note="real Toxiproxy"), lambda a, b: (0, 0), lambda a, b: 9)
    assert off.verdict == "not judged" and "real Toxiproxy" in off.message
    assert judge_reach(_input(applied_s=None), lambda a, b: (0, 0), lambda a, b: 9).verdict == "not judged"


def test_a_down_fault_is_judged_on_the_traffic_around_it() -> None:
    windows: list[tuple[float, float]] = []

    def activity(a: float, b: float) -> tuple[int, int]:
        windows.append((a, b))
        return (0, 1) if a < 10 else (0, 0)

    r = judge_reach(_input(down=True), activity, lambda a, b: 5)
    assert r.verdict == "reached" and windows == [(0.0, 10.0), (20.0, 35.0)]


def test_a_provider_fault_reaches_through_the_key_too() -> None:
    r = judge_reach(_input(provider=True, dependency="provider"), lambda a, b: (0, 0), lambda a, b: 5,
                    provider_requests=7)
    assert r.verdict == "reached" and "served 7 requests" in r.message


@pytest.mark.slow
def test_a_declared_dependency_the_service_never_calls_fails_the_run(tmp_path: Path) -> None:
    """myrag keeps its vectors in memory; this target file claims a vector store it never dials,
    so vectordb-brownout's faults reach nothing and the run fails, saying how to wire it."""
    text = (ROOT / "examples" / "myrag" / "ragchaos.yaml").read_text()
    text = text.replace("cwd: ..", f"cwd: {ROOT / 'examples'}").replace(
        "      provider: provider ", "      vectordb: {upstream: chroma, role: vector_store}\n      provider: provider ")
    targets = tmp_path / "targets.yaml"
    targets.write_text(text)
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", "vectordb-brownout", "--targets", str(targets),
                           "--quick", "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "did not reach myrag: its proxy myrag_vectordb (127.0.0.1:" in proc.stdout, proc.stdout[-3000:]
    assert "{vectordb.host}" in proc.stdout
    [run] = list((tmp_path / "runs").iterdir())
    result = json.loads((run / "results.json").read_text())
    verdicts = {f["name"]: f["reach"]["verdict"] for f in result["faults"]}
    assert set(verdicts.values()) == {"missed"}, verdicts
    failed = [c for c in result["gate"]["checks"] if c["name"].startswith("fault reached:") and not c["passed"]]
    assert len(failed) == len(verdicts) and not result["gate"]["passed"]
