"""The durable ingest queue survives a crash: every job answered 202 is indexed after a restart.

The provider holds every embeddings call of this app (a ``hang`` fault), so the accepted jobs
are still queued or running when the app is SIGKILLed. The fault is removed, the app starts again
on the same data dir, and every job completes and is searchable. Nothing here depends on timing:
the jobs cannot finish before the kill, and the waits after the restart are polls.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.corpus import document
from tests.apps.helpers import launch, new_tenant, submit_held_jobs, wait_job

pytestmark = pytest.mark.slow


def test_jobs_accepted_before_a_crash_complete_after_the_restart(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("reference", provider, chroma, toxiproxy, session_dir)
    faults = f"{provider.url}/_control/faults"
    fault = httpx.post(faults, json={"kind": "hang", "endpoint": "embeddings", "key": app.key}, timeout=10).json()["id"]
    tenant = new_tenant()
    try:
        # a worker has taken jobs and is stuck at the provider
        jobs = submit_held_jobs(app, provider, tenant, {f"doc-{i}": document("astronomy", 2, i) for i in range(5)})
        with app.client() as c:
            assert all(c.get(f"/v1/jobs/{j}").json()["state"] in ("queued", "running") for j in jobs)
        app.kill()
        httpx.delete(f"{faults}/{fault}", timeout=10)
        fault = None
        app.start_again()
        with app.client() as c:
            states = [wait_job(c, j)["state"] for j in jobs]
            assert states == ["done"] * 5
            r = c.post("/v1/query", json={"tenant": tenant, "question": "telescope nebula galaxy", "top_k": 20})
            assert r.status_code == 200
            assert {s["doc_id"] for s in r.json()["sources"]} == {f"doc-{i}" for i in range(5)}
    finally:
        if fault is not None:
            httpx.delete(f"{faults}/{fault}", timeout=10)
        app.stop()
