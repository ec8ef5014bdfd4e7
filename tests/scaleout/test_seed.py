"""deploy/seed.py, compose's seeding step, run for real against both apps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "deploy" / "seed.py"


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAGCHAOS_")}
    return subprocess.run([sys.executable, str(SEED)], env={**clean, **env}, capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.mark.slow
def test_seed_indexes_the_scenario_corpus_in_both_apps(start_app) -> None:
    from ragchaos.scenarios.loader import load_scenario
    from ragchaos.scenarios.requests import Workbench

    naive, reference = start_app("naive"), start_app("reference")
    proc = _run({"RAGCHAOS_SCENARIO": "smoke", "RAGCHAOS_NAIVE_URL": naive.url, "RAGCHAOS_REFERENCE_URL": reference.url})
    assert proc.returncode == 0, proc.stderr
    docs = Workbench(load_scenario("smoke")).corpus.documents
    assert f"seed: {len(docs)} documents of smoke into naive" in proc.stdout
    assert f"seed: {len(docs)} documents of smoke into reference" in proc.stdout
    doc = docs[0]
    body = doc.body()
    question = " ".join(str(body["text"]).split()[:12])
    for app in (naive, reference):
        r = httpx.post(f"{app.url}/v1/query", json={"tenant": body["tenant"], "question": question}, timeout=30)
        assert r.status_code == 200, r.text
        assert body["doc_id"] in [s["doc_id"] for s in r.json()["sources"]]


def test_seed_without_targets_or_with_a_bad_scenario_is_one_line() -> None:
    proc = _run({})
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "seed: error: set RAGCHAOS_NAIVE_URL and/or RAGCHAOS_REFERENCE_URL")
    proc = _run({"RAGCHAOS_SCENARIO": "no-such-scenario", "RAGCHAOS_NAIVE_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 2 and proc.stderr.startswith("seed: error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_pin_resolves_the_host_once_and_keeps_the_rest() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("ragchaos_deploy_seed", SEED)
    assert spec is not None and spec.loader is not None
    seed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed)
    assert seed.pin("http://localhost:8080/base") == "http://127.0.0.1:8080/base"
    assert seed.pin("http://127.0.0.1:9") == "http://127.0.0.1:9"
