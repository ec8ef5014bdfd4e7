"""With authentication on, the tenant is the API key's: key A never reads tenant B's data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from ragchaos.reference_app.auth import AuthConfigError, KeyTable, load_keys

KEY_A = "sk-tenant-a-5f1c0e9a7b"
KEY_B = "sk-tenant-b-9d2e4f6a1c"


def test_key_table_maps_keys_to_tenants() -> None:
    table = KeyTable({KEY_A: "acme", KEY_B: "globex"})
    assert table.tenant_of(KEY_A) == "acme"
    assert table.tenant_of(KEY_B) == "globex"
    assert table.tenant_of(KEY_A[:-1]) is None
    assert table.tenant_of("") is None


def test_keys_from_env_and_file(tmp_path: Path) -> None:
    assert load_keys({}) is None  # off by default
    f = tmp_path / "keys"
    f.write_text(f"# tenant keys\n{KEY_B} globex\n\n")
    table = load_keys({"RAGCHAOS_AUTH_KEYS": f"{KEY_A}=acme", "RAGCHAOS_AUTH_KEYS_FILE": str(f)})
    assert table is not None and len(table) == 2
    assert table.tenant_of(KEY_B) == "globex"


@pytest.mark.parametrize("env", [
    {"RAGCHAOS_AUTH_KEYS": f"{KEY_A}=bad tenant!"},
    {"RAGCHAOS_AUTH_KEYS": f"{KEY_A}"},
    {"RAGCHAOS_AUTH_KEYS": ","},
])
def test_bad_key_config_is_a_clear_error_without_the_key(env: dict[str, str]) -> None:
    with pytest.raises(AuthConfigError) as info:
        load_keys(env)
    assert KEY_A not in str(info.value)


def test_unreadable_keys_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="keys-missing"):
        load_keys({"RAGCHAOS_AUTH_KEYS_FILE": str(tmp_path / "keys-missing")})


def _wait_done(c: httpx.Client, job_id: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = c.get(f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if job.get("state") in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} not done")


def test_key_for_tenant_a_cannot_read_tenant_b(start_app, tmp_path: Path) -> None:
    keys = tmp_path / "tenant-keys"
    keys.write_text(f"{KEY_A}=acme\n{KEY_B}=globex\n")
    app = start_app("reference", env={"RAGCHAOS_AUTH_KEYS_FILE": str(keys)})
    a = {"Authorization": f"Bearer {KEY_A}"}
    b = {"Authorization": f"Bearer {KEY_B}"}
    with httpx.Client(base_url=app.url, timeout=30) as c:
        # the body may leave the tenant out: the key supplies it
        job_a = c.post("/v1/documents", headers=a, json={"doc_id": "plan", "text": "Acme's launch code is ORCHID."})
        job_b = c.post("/v1/documents", headers=b, json={"doc_id": "plan", "text": "Globex's launch code is TULIP.",
                                                         "tenant": "globex"})
        assert job_a.status_code == 202 and job_b.status_code == 202, (job_a.text, job_b.text)
        ja, jb = job_a.json()["job_id"], job_b.json()["job_id"]
        assert _wait_done(c, ja, KEY_A)["tenant"] == "acme"
        assert _wait_done(c, jb, KEY_B)["tenant"] == "globex"

        # job status: another tenant's job does not exist for you
        other = c.get(f"/v1/jobs/{jb}", headers=a)
        assert other.status_code == 404 and other.json()["error"]["type"] == "not_found"
        assert "globex" not in other.text

        # query: a body naming another tenant is refused, never answered from that tenant
        cross = c.post("/v1/query", headers=a, json={"tenant": "globex", "question": "What is the launch code?"})
        assert cross.status_code == 403 and cross.json()["error"]["type"] == "tenant_mismatch"
        cross_doc = c.post("/v1/documents", headers=a, json={"tenant": "globex", "doc_id": "x", "text": "overwrite"})
        assert cross_doc.status_code == 403

        own = c.post("/v1/query", headers=a, json={"question": "What is the launch code?"})
        assert own.status_code == 200, own.text
        assert own.json()["sources"] and "TULIP" not in own.text
        assert "ORCHID" in own.json()["answer"] or own.json()["sources"][0]["doc_id"] == "plan"

        # no key, a wrong key, another scheme: 401 JSON, and the key is never echoed
        for headers in ({}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": f"Basic {KEY_A}"}):
            r = c.post("/v1/query", headers=headers, json={"tenant": "acme", "question": "launch code?"})
            assert r.status_code == 401 and r.json()["error"]["type"] == "unauthorized", r.text
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert KEY_A not in r.text and "sk-wrong" not in r.text
        # ops routes stay open for probes and scrapes
        assert c.get("/healthz").status_code == 200
        metrics = c.get("/metrics").text
        assert 'ragchaos_auth_rejections_total{reason="tenant_mismatch"} 2.0' in metrics
        assert 'ragchaos_auth_rejections_total{reason="job_of_other_tenant"} 1.0' in metrics
    log = Path(app.process.log_path).read_text()
    assert KEY_A not in log and KEY_B not in log


def test_auth_registers_its_metric_on_the_app_registry() -> None:
    from fastapi import FastAPI

    from ragchaos.reference_app.auth import install_auth

    registry = CollectorRegistry()
    app = FastAPI()
    assert install_auth(app, registry, env={}) is None and not app.user_middleware
    assert install_auth(app, registry, env={"RAGCHAOS_AUTH_KEYS": f"{KEY_A}=acme"}) is not None
    assert len(app.user_middleware) == 1


def test_bad_keys_file_stops_the_app_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    keys = tmp_path / "keys"
    keys.write_text(f"# ok\n{KEY_A}=acme\n{KEY_B}=not a tenant!\n")
    env = {**os.environ, "RAGCHAOS_AUTH_KEYS_FILE": str(keys), "RAGCHAOS_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-m", "ragchaos.reference_app", "serve", "--port", "1"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"ragchaos: error: bad configuration: {keys}:3: expected "
                                                "'key=tenant' with a valid tenant name"]
    assert KEY_B not in proc.stderr
