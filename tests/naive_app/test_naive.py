"""The naive app does the tutorial thing, visibly: per-chunk calls, the SDK's default retries, no mechanisms.

A real naive process against the session's provider and Chroma, through the fault proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ragchaos.faults.calltiming import CallReader
from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.corpus import document
from tests.apps.helpers import AppHandle, launch, new_tenant, provider_count, sse_events

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def naive(provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path) -> Iterator[AppHandle]:
    app = launch("naive", provider, chroma, toxiproxy, session_dir)
    try:
        yield app
    finally:
        app.stop()


def _calls(app: AppHandle, since: CallReader) -> dict[tuple[str, str], list[dict]]:
    """The app's calls the fault proxy timed since ``since``'s cursor: (dependency, endpoint) -> records."""
    owners = {proxy: dep for dep, proxy in app.proxies.items()}
    out: dict[tuple[str, str], list[dict]] = {}
    for r in since.fetch():
        if r.get("kind") == "http" and r.get("proxy") in owners:
            out.setdefault((owners[r["proxy"]], r["endpoint"]), []).append(r)
    return out


def test_ingest_is_in_the_request_path_with_one_call_per_chunk_timed_from_outside(
    naive: AppHandle, provider: Endpoint, toxiproxy: ToxiproxyHandle
) -> None:
    tenant = new_tenant()
    before = provider_count(provider, naive.key)
    reader = CallReader(toxiproxy.url)
    reader.skip_to_now()
    with naive.client() as c:
        r = c.post("/v1/documents", json={"tenant": tenant, "doc_id": "stars", "text": document("astronomy", 6, 1)})
        assert r.status_code == 200 and r.json() == {"doc_id": "stars", "chunks": 6, "state": "done"}
        # searchable the moment the 200 arrives
        q = c.post("/v1/query", json={"tenant": tenant, "question": "telescope nebula"})
    assert provider_count(provider, naive.key) - before == 6 + 1  # 6 chunks, then the question
    assert q.status_code == 200 and q.json()["sources"][0]["doc_id"] == "stars"
    assert q.headers["x-cache"] == "BYPASS" and q.json()["cached"] is None and q.json()["degraded"] is False
    # the app times nothing itself: the proxy in front of each dependency saw every call
    calls = _calls(naive, reader)
    counts = {k: len(v) for k, v in calls.items()}
    assert counts[("provider", "embeddings")] == 7 and counts[("vectordb", "upsert")] == 6
    assert counts[("provider", "chat")] == 1 and counts[("vectordb", "query")] == 1
    assert all(r["status"] == 200 and r["duration_us"] > 0 for v in calls.values() for r in v)


def test_it_measures_nothing_itself(naive: AppHandle) -> None:
    with naive.client() as c:
        assert c.get("/metrics").status_code == 404
        assert c.get("/_stats/hdr").status_code == 404


def _failing_chat(provider: Endpoint, key: str, fault: dict) -> str:
    return str(httpx.post(f"{provider.url}/_control/faults", json={"endpoint": "chat", "key": key, **fault},
                          timeout=10).json()["id"])


def test_the_sdk_retries_a_provider_error_twice_then_a_502(
    naive: AppHandle, provider: Endpoint, toxiproxy: ToxiproxyHandle
) -> None:
    fault = _failing_chat(provider, naive.key, {"kind": "error", "status": 503})
    before = provider_count(provider, naive.key, "chat")
    reader = CallReader(toxiproxy.url)
    reader.skip_to_now()
    try:
        with naive.client() as c:
            r = c.post("/v1/query", json={"tenant": new_tenant(), "question": "anything at all"})
    finally:
        httpx.delete(f"{provider.url}/_control/faults/{fault}", timeout=10)
    assert r.status_code == 502 and r.json()["error"]["type"] == "provider_error"
    assert provider_count(provider, naive.key, "chat") - before == 3  # the SDK's default: 2 retries
    # and the proxy tells the retries from the first attempt (the SDK's x-stainless-retry-count)
    chat = _calls(naive, reader)[("provider", "chat")]
    assert sorted(r["retry"] or 0 for r in chat) == [0, 1, 2] and all(r["status"] == 503 for r in chat)


def test_the_no_retries_variant_fails_at_once(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("naive", provider, chroma, toxiproxy, session_dir, env={"RAGCHAOS_NAIVE_VARIANT": "no-retries"})
    try:
        fault = _failing_chat(provider, app.key, {"kind": "error", "status": 503})
        before = provider_count(provider, app.key, "chat")
        try:
            with app.client() as c:
                r = c.post("/v1/query", json={"tenant": new_tenant(), "question": "anything at all"})
        finally:
            httpx.delete(f"{provider.url}/_control/faults/{fault}", timeout=10)
        assert r.status_code == 502
        assert provider_count(provider, app.key, "chat") - before == 1
    finally:
        app.stop()


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
