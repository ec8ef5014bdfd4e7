"""The naive app does the tutorial thing, visibly: per-chunk calls, no retries, no mechanisms.

A real naive process against the session's provider and Chroma, through the fault proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.corpus import document
from tests.apps.helpers import AppHandle, launch, metric, new_tenant, provider_count, sse_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def naive(provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path) -> Iterator[AppHandle]:
    app = launch("naive", provider, chroma, toxiproxy, session_dir)
    try:
        yield app
    finally:
        app.stop()


def test_ingest_is_in_the_request_path_with_one_embeddings_call_per_chunk(naive: AppHandle, provider: Endpoint) -> None:
    tenant = new_tenant()
    before = provider_count(provider, naive.key)
    with naive.client() as c:
        c.post("/_stats/reset")
        r = c.post("/v1/documents", json={"tenant": tenant, "doc_id": "stars", "text": document("astronomy", 6, 1)})
        assert r.status_code == 200 and r.json() == {"doc_id": "stars", "chunks": 6, "state": "done"}
        # searchable the moment the 200 arrives
        q = c.post("/v1/query", json={"tenant": tenant, "question": "telescope nebula"})
        stages = c.get("/_stats/hdr").json()["stages"]
    assert provider_count(provider, naive.key) - before == 6 + 1  # 6 chunks, then the question
    assert q.status_code == 200 and q.json()["sources"][0]["doc_id"] == "stars"
    assert q.headers["x-cache"] == "BYPASS" and q.json()["cached"] is None and q.json()["degraded"] is False
    assert stages["ingest.embed"]["count"] == 6 and stages["ingest.upsert"]["count"] == 6
    assert {"ingest.total", "ingest.freshness", "query.total", "query.embed", "query.retrieve", "query.generate"} <= set(stages)


def test_a_provider_error_is_a_502_with_no_retry(naive: AppHandle, provider: Endpoint) -> None:
    faults = f"{provider.url}/_control/faults"
    fault = httpx.post(faults, json={"kind": "error", "endpoint": "chat", "key": naive.key, "status": 503},
                       timeout=10).json()["id"]
    before = provider_count(provider, naive.key, "chat")
    try:
        with naive.client() as c:
            r = c.post("/v1/query", json={"tenant": new_tenant(), "question": "anything at all"})
    finally:
        httpx.delete(f"{faults}/{fault}", timeout=10)
    assert r.status_code == 502 and r.json()["error"]["type"] == "provider_error"
    assert provider_count(provider, naive.key, "chat") - before == 1  # the SDK's retries are off


def test_mechanism_metrics_exist_at_zero(naive: AppHandle) -> None:
    for name in ("ragchaos_cache_requests_total", "ragchaos_retries_total", "ragchaos_fallback_total",
                 "ragchaos_shed_total", "ragchaos_quota_rejections_total", "ragchaos_breaker_transitions_total"):
        assert metric(naive, name) == 0, name
    assert metric(naive, "ragchaos_breaker_state", dependency="vectordb") == 0
    # every embeddings call the naive app makes carries one input
    count, total = metric(naive, "ragchaos_embed_batch_size_count"), metric(naive, "ragchaos_embed_batch_size_sum")
    assert count == total


def test_streaming_answer(naive: AppHandle) -> None:
    tenant = new_tenant()
    with naive.client() as c:
        c.post("/v1/documents", json={"tenant": tenant, "doc_id": "garden", "text": document("garden", 1, 1)})
        plain = c.post("/v1/query", json={"tenant": tenant, "question": "compost tomatoes"}).json()
        r = c.post("/v1/query", json={"tenant": tenant, "question": "compost tomatoes", "stream": True})
    events = sse_events(r.text)
    (done,) = [e for e in events if e["type"] == "done"]
    assert "".join(e["content"] for e in events if e["type"] == "delta") == done["answer"] == plain["answer"]
    assert done["sources"] == plain["sources"]
