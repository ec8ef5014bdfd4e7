"""Helpers for the apps' integration tests: module-scoped app processes and small HTTP calls.

``tests/conftest.py`` gives the session's provider, Chroma and Toxiproxy; ``launch`` starts one of
our apps wired through fresh proxies (``ragchaos.stack.AppLauncher``, returning an ``AppHandle``),
with its own provider key (so the provider's ``/_stats`` for that key counts exactly this app's
calls), its own collections and its own data dir. Apps here are module-scoped: one start serves
several tests, each using tenants of its own.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import AppHandle, AppLauncher, Endpoint, ToxiproxyHandle

__all__ = ["AppHandle", "launch", "metric", "new_tenant", "provider_count", "wait_for", "wait_job"]

# keys key-150 .. key-199 (the provider knows key-001 .. key-200); the shared start_app fixture
# counts up from key-001, so the two never hand out the same key in one session
_keys = itertools.count(150)


def new_tenant() -> str:
    return "t" + uuid.uuid4().hex[:10]


def launch(
    kind: str, provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path,
    env: Mapping[str, str] | None = None,
) -> AppHandle:
    """Our app ``kind`` with a key, collections and data dir of its own, in a process group of its
    own (module-scoped apps outlive a test's ``app_launcher``): stop it with ``app.stop()``."""
    n = next(_keys)
    key = f"key-{n:03d}"
    name = f"{kind}{n}"
    launcher = AppLauncher(toxiproxy.url, provider, chroma, ProcessGroup(), session_dir / "logs", session_dir / "data")
    return launcher.launch(name, kind=kind, env={
        "RAGCHAOS_APP_NAME": kind, "RAGCHAOS_PROVIDER_KEY": key, "RAGCHAOS_COLLECTION_PREFIX": name, **(env or {}),
    })


def provider_count(provider: Endpoint, key: str, endpoint: str = "embeddings", field: str = "requests") -> int:
    stats = httpx.get(f"{provider.url}/_stats", timeout=10.0).json()
    return int(stats.get("keys", {}).get(key, {}).get(endpoint, {}).get(field, 0))


def metric(app: AppHandle, name: str, **labels: str) -> float:
    text = httpx.get(f"{app.url}/metrics", timeout=10.0).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def wait_job(c: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = c.get(f"/v1/jobs/{job_id}").json()
        return body if body["state"] in ("done", "failed") else None

    return wait_for(done, f"job {job_id}", timeout)


def ingest(app: AppHandle, tenant: str, docs: Mapping[str, str], metadata: Mapping[str, Any] | None = None) -> None:
    """Index ``docs`` (doc_id -> text) and wait until they are searchable."""
    with app.client() as c:
        jobs = []
        for doc_id, text in docs.items():
            body: dict[str, Any] = {"tenant": tenant, "doc_id": doc_id, "text": text}
            if metadata:
                body["metadata"] = dict(metadata)
            r = c.post("/v1/documents", json=body)
            assert r.status_code in (200, 202), r.text
            if r.status_code == 202:
                jobs.append(r.json()["job_id"])
        for job in jobs:
            assert wait_job(c, job)["state"] == "done"


def sse_events(body: str) -> list[Any]:
    out = []
    for line in body.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    return out


def submit_held_jobs(app: AppHandle, provider: Endpoint, tenant: str, docs: Mapping[str, str]) -> list[str]:
    """Submit ``docs`` (doc_id -> text) while the app's embeddings calls are held by a ``hang``
    fault the caller set; return the job ids once a worker has taken jobs and is stuck at the
    provider (its call reached it, or a job shows ``running``)."""
    with app.client() as c:
        jobs = []
        for doc_id, text in docs.items():
            r = c.post("/v1/documents", json={"tenant": tenant, "doc_id": doc_id, "text": text})
            assert r.status_code == 202, r.text
            jobs.append(r.json()["job_id"])
        wait_for(lambda: provider_count(provider, app.key) >= 1 or any(
            c.get(f"/v1/jobs/{j}").json()["state"] == "running" for j in jobs), "a worker to start a job")
    return jobs
