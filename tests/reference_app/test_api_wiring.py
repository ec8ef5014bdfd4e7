"""The app's own API answers for admission and quotas: JSON errors with Retry-After, fast.

(The mechanisms themselves are tested in test_quotas.py, test_bulkhead.py and
test_e2e_resilience.py; this checks how the app turns them into HTTP answers.)
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx
import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.helpers import launch, metric, new_tenant, provider_count, wait_for

pytestmark = pytest.mark.slow


def test_admission_full_is_a_fast_503_and_quota_over_is_a_429(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("reference", provider, chroma, toxiproxy, session_dir, env={
        "RAGCHAOS_DISABLE": "cache",
        "RAGCHAOS_ADMISSION__MAX_IN_FLIGHT": "1",
        "RAGCHAOS_ADMISSION__MAX_WAIT_S": "0",
        "RAGCHAOS_QUOTA__OVERRIDES": '{"noisy": {"rate_per_s": 0.01, "burst": 1}}',
    })
    faults = f"{provider.url}/_control/faults"
    fault = httpx.post(faults, json={"kind": "hang", "endpoint": "embeddings", "key": app.key}, timeout=10).json()["id"]
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool, app.client() as c:
            held = pool.submit(c.post, "/v1/query", json={"tenant": new_tenant(), "question": "held at the provider"})
            wait_for(lambda: provider_count(provider, app.key) >= 1, "the first query to reach the provider")
            t = time.monotonic()
            shed = c.post("/v1/query", json={"tenant": new_tenant(), "question": "one too many"})
            assert time.monotonic() - t < 5.0
            assert shed.status_code == 503 and shed.json()["error"]["type"] == "overloaded"
            assert int(shed.headers["retry-after"]) >= 1 and shed.headers["x-request-id"]
            httpx.delete(f"{faults}/{fault}", timeout=10)
            fault = None
            assert held.result(timeout=60).status_code in (200, 503)  # released: answered, never hung
        assert metric(app, "ragchaos_shed_total", reason="admission") == 1
        with app.client() as c:
            first = c.post("/v1/documents", json={"tenant": "noisy", "doc_id": "a", "text": "some words"})
            assert first.status_code == 202
            over = c.post("/v1/documents", json={"tenant": "noisy", "doc_id": "b", "text": "some words"})
            assert over.status_code == 429 and over.json()["error"]["type"] == "quota_exceeded"
            assert int(over.headers["retry-after"]) >= 1
            assert c.post("/v1/documents", json={"tenant": "calm", "doc_id": "a", "text": "w"}).status_code == 202
    finally:
        if fault is not None:
            httpx.delete(f"{faults}/{fault}", timeout=10)
        app.stop()
