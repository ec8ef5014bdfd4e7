"""Secrets (provider keys, tenant API keys) come from the environment or a file and never leak.

Each test plants distinctive secret values, drives traffic that makes every part log (successes,
refused keys, a failing provider), then greps every byte the processes wrote and answered.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import app_env, start_app, start_provider

PROVIDER_SECRET = "sk-prov-Zq8vT3kWm5Ls0Xr2Nd7"
TENANT_SECRET = "tk-acme-Hj4pQ9cVb6Yw1Ge8Ru3"
OTHER_SECRET = "sk-openai-Fa2Ks7Lq0Pz5Mx9Cv4"  # in the environment, used by nothing: must stay there
TENANT_SECRET_2 = "tk-globex-Wn5eR2tYu8Io3Pa6Sd1"
SECRETS = (PROVIDER_SECRET, TENANT_SECRET, TENANT_SECRET_2, OTHER_SECRET)


def _leaks(root: Path) -> list[str]:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path}: {s}" for s in SECRETS if s.encode() in data]
    return found


@pytest.fixture
def group() -> Iterator[ProcessGroup]:
    g = ProcessGroup()
    try:
        yield g
    finally:
        g.stop_all()


def test_app_and_provider_logs_and_answers_hold_no_secret(group: ProcessGroup, chroma, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    # the provider's keys from its environment; the tenant keys from a file
    _, provider = start_provider(group, logs, env={"RAGCHAOS_PROVIDER_KEYS": PROVIDER_SECRET,
                                                   "OPENAI_API_KEY": OTHER_SECRET})
    keys_file = tmp_path / "tenant-keys"
    keys_file.write_text(f"{TENANT_SECRET}=acme\n")
    env = app_env("secretref", provider, chroma, tmp_path / "data", {
        "RAGCHAOS_APP_NAME": "reference", "RAGCHAOS_PROVIDER_KEY": PROVIDER_SECRET,
        "RAGCHAOS_AUTH_KEYS_FILE": str(keys_file), "OPENAI_API_KEY": OTHER_SECRET, "RAGCHAOS_LOG_LEVEL": "DEBUG"})
    _, app = start_app(group, logs, "secretref", env, kind="reference")
    auth = {"Authorization": f"Bearer {TENANT_SECRET}"}
    answers: list[str] = []
    with httpx.Client(base_url=app.url, timeout=30) as c:
        r = c.post("/v1/documents", headers=auth, json={"doc_id": "d1", "text": "The vault code is 42."})
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        for _ in range(300):
            state = c.get(f"/v1/jobs/{job}", headers=auth).json()["state"]
            if state in ("done", "failed"):
                break
        assert state == "done"
        answers.append(c.post("/v1/query", headers=auth, json={"question": "What is the vault code?"}).text)
        # refused keys: near misses of the real one, and the real one for another tenant
        for bad in (TENANT_SECRET[:-1], TENANT_SECRET + "x", f"{TENANT_SECRET} {TENANT_SECRET}"):
            r = c.post("/v1/query", headers={"Authorization": f"Bearer {bad}"}, json={"question": "q?"})
            assert r.status_code == 401
            answers.append(r.text + json.dumps(dict(r.headers)))
        r = c.post("/v1/query", headers=auth, json={"tenant": "globex", "question": "q?"})
        assert r.status_code == 403
        answers.append(r.text)
        # a failing provider: the app's error path logs, retries, falls back, answers 5xx
        faults = httpx.put(f"{provider.url}/_control/faults",
                           json={"faults": [{"kind": "error", "status": 500, "rate": 1.0}]})
        assert faults.status_code == 200, faults.text
        try:
            r = c.post("/v1/query", headers=auth, json={"question": "Something never asked before?"})
            assert r.status_code >= 500 or r.json()["degraded"], r.text
            answers.append(r.text)
        finally:
            httpx.delete(f"{provider.url}/_control/faults")
        answers.append(c.get("/metrics").text)
        answers.append(c.get("/_stats/mechanisms").text)
    group.stop_all()  # flush and close the logs
    assert any(logs.iterdir())
    assert _leaks(logs) == []
    assert [s for s in SECRETS if any(s in a for a in answers)] == []


@pytest.mark.slow
def test_run_folder_holds_no_secret(tmp_path: Path) -> None:
    """A whole scenario run with auth on and secrets in its environment: none reaches the run folder.

    The keys file configures both sides: the reference app authenticates with it, and the runner
    (ragchaos/scenarios/tenantkeys.py) sends each tenant's key, so a run that got through proves the hook."""
    keys = tmp_path / "keys"
    keys.write_text(f"{TENANT_SECRET}=acme\n{TENANT_SECRET_2}=globex\n")
    out = tmp_path / "runs"
    env = {**os.environ, "RAGCHAOS_PROVIDER_KEYS": PROVIDER_SECRET, "OPENAI_API_KEY": OTHER_SECRET,
           "RAGCHAOS_AUTH_KEYS_FILE": str(keys)}
    proc = subprocess.run([sys.executable, "-m", "ragchaos", "run", "smoke", "--out", str(out)],
                          capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
    [run_dir] = list(out.iterdir())
    result = json.loads((run_dir / "results.json").read_text())
    reference = result["apps"]["reference"]
    steady = reference["phases"]["steady"]["client"]
    assert steady["requests"] > 0 and steady["ok"] == steady["requests"], steady["errors"]  # no 401s
    assert reference["correctness"]["scored"] > 0
    names = {p.name for p in run_dir.rglob("*")}
    assert {"results.json", "report.html", "summary.md", "junit.xml", "provider.log"} <= names, names
    assert _leaks(run_dir) == []
    assert [s for s in SECRETS if s in proc.stdout + proc.stderr] == []


def test_leak_scan_finds_a_planted_secret(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_text(f'{{"msg": "calling with {PROVIDER_SECRET[:-1]}"}}\n')
    assert _leaks(tmp_path) == []
    (tmp_path / "results.json").write_text(json.dumps({"env": {"KEY": TENANT_SECRET}}))
    assert _leaks(tmp_path) == [f"{tmp_path / 'results.json'}: {TENANT_SECRET}"]


def test_runner_sends_each_tenants_key_from_the_apps_keys_file(tmp_path: Path) -> None:
    from ragchaos.scenarios.tenantkeys import tenant_headers

    keys = tmp_path / "keys"
    keys.write_text(f"{TENANT_SECRET}=acme\n")
    env = {"RAGCHAOS_AUTH_KEYS_FILE": str(keys), "RAGCHAOS_AUTH_KEYS": f"{TENANT_SECRET_2}=globex"}
    assert tenant_headers("acme", env) == {"Authorization": f"Bearer {TENANT_SECRET}"}
    assert tenant_headers("globex", env) == {"Authorization": f"Bearer {TENANT_SECRET_2}"}
    assert tenant_headers("initech", env) == {}
    assert tenant_headers("acme", {}) == {}  # auth off: no header at all
