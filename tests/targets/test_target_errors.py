"""A target that cannot be used is a clear error before the load starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ragchaos.scenarios.loader import ScenarioError, load_scenario
from ragchaos.scenarios.options import RunOptions, prepare_scenario

ROOT = Path(__file__).resolve().parents[2]
MYRAG = (ROOT / "examples" / "myrag" / "ragchaos.yaml").read_text()


def _ragchaos(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ragchaos", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unknown_placeholder_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text(MYRAG.replace('q: "{question}"', 'q: "{query}"').replace("cwd: ..", f"cwd: {ROOT / 'examples'}"))
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "{query}" in text)
    with pytest.raises(ScenarioError) as err:
        prepare_scenario(load_scenario("smoke"), RunOptions(targets_file=bad))
    [problem] = err.value.problems
    assert problem.startswith(f"{bad}:{line}: targets.myrag.query.body: unknown placeholder {{query}}"), problem
    proc = _ragchaos("run", "smoke", "--targets", str(bad), "--dry-run", timeout=60)
    assert proc.returncode != 0 and "unknown placeholder {query}" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_apps_and_bad_target_args_are_refused() -> None:
    with pytest.raises(ScenarioError, match="unknown app 'mine'"):
        prepare_scenario(load_scenario("smoke"), RunOptions(apps=["mine"]))
    with pytest.raises(ScenarioError, match="NAME=COMMAND"):
        prepare_scenario(load_scenario("smoke"), RunOptions(targets=["mine"]))
    scenario = prepare_scenario(load_scenario("smoke"),
                                RunOptions(targets=["mine=uvicorn x:app --port {port}"]))
    assert scenario.apps == ["mine"] and scenario.target("mine").command


@pytest.mark.slow
def test_an_unreachable_target_stops_the_run_before_anything_starts(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    proc = _ragchaos("run", "smoke", "--target", f"mine={url}", "--quick", "--out", str(tmp_path))
    assert proc.returncode != 0
    assert f"target mine: {url}/healthz is unreachable" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "load on" not in proc.stdout


@pytest.mark.slow
def test_a_span_rule_that_matches_nothing_stops_the_run_before_the_load(tmp_path: Path) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(MYRAG.replace("cwd: ..", f"cwd: {ROOT / 'examples'}")
                       .replace('"index.add": ingest.upsert', '"index.add": ingest.upsert\n      "rerank*": query.rerank'))
    proc = _ragchaos("run", "smoke", "--targets", str(targets), "--quick", "--out", str(tmp_path / "runs"))
    assert proc.returncode != 0
    assert "target myrag: span rule 'rerank*' matches no span (spans seen: " in proc.stderr, proc.stderr
    assert "vector.search" in proc.stderr  # what it did see, to fix the rule by
    assert "load on" not in proc.stdout and "Traceback" not in proc.stderr


def test_a_fault_on_a_dependency_the_target_lacks_is_refused() -> None:
    opts = RunOptions(targets_file=ROOT / "examples" / "myrag" / "ragchaos.yaml")
    # the built-in scenario addresses a role; myrag's only dependency is its provider
    with pytest.raises(ScenarioError, match="faults.0.role: myrag has no dependency with role 'vector_store' "
                                            "\\(its dependencies: provider \\(provider\\)\\); if one of them is its "
                                            "vector store, say so in its target"):
        prepare_scenario(load_scenario("vectordb-brownout"), opts)
    assert prepare_scenario(load_scenario("provider-429-storm"), opts).apps == ["myrag"]
