"""The reference app's data-path mechanisms take effect, and every data-path switch switches.

Real app processes against the session's provider and Chroma, through the fault proxy. Each
mechanism is shown by something that could fail: provider calls counted per API key, the app's
own counters, response headers. Four app configurations share the module:

- ``on``: everything on;
- ``core_off``: ``pooling,batching,bulk_upsert,queue,cache``;
- ``layers_off``: the four cache layers by their own names;
- ``exact_off``: ``response_cache,semantic_cache`` (embedding and retrieval caches still on).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ragchaos.measure.stages import STAGES
from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.corpus import document
from tests.apps.helpers import (
    AppHandle,
    ingest,
    launch,
    metric,
    new_tenant,
    provider_count,
    sse_events,
    wait_job,
)

pytestmark = pytest.mark.slow

CONFIGS = {
    "on": "",
    "core_off": "pooling,batching,bulk_upsert,queue,cache",
    "layers_off": "response_cache,semantic_cache,embedding_cache,retrieval_cache",
    "exact_off": "response_cache,semantic_cache",
}
QUESTION = "What is the refund policy for returns within thirty days?"
PARAPHRASE = "What's the refund policy for returns within thirty days?"
NEGATION = "What is not the refund policy for returns within thirty days?"


@pytest.fixture(scope="module")
def apps(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> Iterator[dict[str, AppHandle]]:
    started: dict[str, AppHandle] = {}
    try:
        for name, disable in CONFIGS.items():
            started[name] = launch("reference", provider, chroma, toxiproxy, session_dir,
                                   env={"RAGCHAOS_DISABLE": disable})
        yield started
    finally:
        for app in started.values():
            app.stop()


def ask(app: AppHandle, tenant: str, question: str, **extra: Any) -> httpx.Response:
    with app.client() as c:
        r = c.post("/v1/query", json={"tenant": tenant, "question": question, **extra})
    assert r.status_code == 200, r.text
    return r


def seeded(app: AppHandle, chunks: int = 2) -> str:
    tenant = new_tenant()
    ingest(app, tenant, {"refunds": document("refunds", chunks, 1), "shipping": document("shipping", 1, 2)})
    return tenant


def chat_calls(provider: Endpoint, app: AppHandle) -> int:
    return provider_count(provider, app.key, "chat")


def embed_calls(provider: Endpoint, app: AppHandle) -> int:
    return provider_count(provider, app.key, "embeddings")


def mechanisms(app: AppHandle) -> dict[str, Any]:
    return httpx.get(f"{app.url}/_stats/mechanisms", timeout=10).json()


# -- caches ---------------------------------------------------------------------------------------


def test_a_repeated_question_is_a_response_cache_hit(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["on"]
    tenant = seeded(app)
    first = ask(app, tenant, QUESTION)
    assert first.headers["x-cache"] == "MISS" and first.json()["cached"] is None
    calls = chat_calls(provider, app), embed_calls(provider, app)
    again = ask(app, tenant, "  what is the REFUND policy for returns within thirty days ")
    assert again.headers["x-cache"] == "HIT" and again.json()["cached"] == "response"
    assert again.json()["sources"] == first.json()["sources"] and again.json()["answer"] == first.json()["answer"]
    assert (chat_calls(provider, app), embed_calls(provider, app)) == calls  # no provider call at all


def test_a_paraphrase_is_a_semantic_hit_and_a_negation_is_not(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["on"]
    tenant = seeded(app)
    ask(app, tenant, QUESTION)
    chats = chat_calls(provider, app)
    para = ask(app, tenant, PARAPHRASE)
    assert para.headers["x-cache"].startswith("SEMANTIC; sim=") and para.json()["cached"] == "semantic"
    assert float(para.headers["x-cache"].split("sim=")[1]) >= 0.95
    assert chat_calls(provider, app) == chats
    neg = ask(app, tenant, NEGATION)  # embeds even closer to the question, yet must not hit
    assert neg.headers["x-cache"] == "MISS" and neg.json()["cached"] is None
    assert chat_calls(provider, app) == chats + 1
    # and never across tenants: the same question for another tenant is a miss
    other = seeded(app)
    assert ask(app, other, QUESTION).headers["x-cache"] == "MISS"


def test_ingesting_for_a_tenant_invalidates_only_its_cached_answers(apps: dict[str, AppHandle]) -> None:
    app = apps["on"]
    tenant, other = seeded(app), seeded(app)
    for t in (tenant, other):
        ask(app, t, QUESTION)
        assert ask(app, t, QUESTION).headers["x-cache"] == "HIT"
    ingest(app, tenant, {"refunds-2": document("refunds", 1, 7)})
    after = ask(app, tenant, QUESTION)
    assert after.headers["x-cache"] == "MISS"  # neither exact nor semantic: the corpus changed
    assert "refunds-2" in {s["doc_id"] for s in ask(app, tenant, QUESTION, top_k=10).json()["sources"]}
    assert ask(app, other, QUESTION).headers["x-cache"] == "HIT"


def test_an_ingest_that_cannot_change_a_cached_answer_keeps_it(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["on"]
    tenant = seeded(app, chunks=4)  # refunds x4 + shipping: the question's top 4 is full
    first = ask(app, tenant, QUESTION)
    assert ask(app, tenant, PARAPHRASE).headers["x-cache"].startswith("SEMANTIC")
    kept = metric(app, "ragchaos_cache_carried_total", layer="response", result="kept")
    ingest(app, tenant, {"lighthouse": document("lighthouse", 2, 3)})  # far from the question
    assert metric(app, "ragchaos_cache_carried_total", layer="response", result="kept") >= kept + 1
    chats = chat_calls(provider, app)
    again = ask(app, tenant, QUESTION)
    assert again.headers["x-cache"] == "HIT" and again.json()["sources"] == first.json()["sources"]
    assert ask(app, tenant, PARAPHRASE).headers["x-cache"].startswith("SEMANTIC")
    assert chat_calls(provider, app) == chats
    # the carried answer is what a fresh search returns now (top_k=10 is another key: a miss)
    fresh = ask(app, tenant, QUESTION, top_k=10)
    assert fresh.headers["x-cache"] == "MISS"
    assert fresh.json()["sources"][:4] == first.json()["sources"]
    assert "lighthouse" in {s["doc_id"] for s in fresh.json()["sources"]}  # indexed, just not near
    # a chunk that enters the top 4 does change it
    dropped = metric(app, "ragchaos_cache_carried_total", layer="response", result="dropped")
    ingest(app, tenant, {"refunds-2": document("refunds", 1, 7)})
    assert metric(app, "ragchaos_cache_carried_total", layer="response", result="dropped") >= dropped + 1
    after = ask(app, tenant, QUESTION)
    assert after.headers["x-cache"] == "MISS"
    assert "refunds-2" in {s["doc_id"] for s in after.json()["sources"]}


def test_concurrent_identical_misses_make_one_upstream_call(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["on"]
    tenant = seeded(app)
    chats, embeds = chat_calls(provider, app), embed_calls(provider, app)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        # a question never asked before (not even its embedding is cached)
        answers = list(pool.map(lambda _: ask(app, tenant, "Refunds for concurrent buyers?").json(), range(8)))
    assert all(a == answers[0] for a in answers[1:])
    assert chat_calls(provider, app) == chats + 1
    assert embed_calls(provider, app) == embeds + 1


# -- ingestion -----------------------------------------------------------------------------------


def test_ingest_is_queued_durably_then_indexed_with_batching_and_bulk_upserts(
    apps: dict[str, AppHandle], provider: Endpoint
) -> None:
    app = apps["on"]
    before_calls, before = embed_calls(provider, app), mechanisms(app)
    with app.client() as c:
        c.post("/_stats/reset")
        r = c.post("/v1/documents", json={"tenant": new_tenant(), "doc_id": "ten", "text": document("garden", 10, 3)})
        assert r.status_code == 202 and r.headers["location"] == f"/v1/jobs/{r.json()['job_id']}"
        job = wait_job(c, r.json()["job_id"])
        assert job["state"] == "done" and job["chunks"] == 10 and job["attempts"] == 1
        assert c.get("/v1/jobs/0123456789abcdef0123456789abcdef").status_code == 404
        assert c.get("/v1/jobs/../../etc").status_code == 404
        stages = c.get("/_stats/hdr").json()["stages"]
    assert embed_calls(provider, app) - before_calls == 1  # ten chunks, one embeddings call
    assert mechanisms(app)["upsert_calls"] - before["upsert_calls"] == 1  # ten vectors, one upsert
    assert {"ingest.queue_wait", "ingest.freshness", "ingest.embed", "ingest.upsert", "ingest.chunk"} <= set(stages)
    assert set(stages) <= set(STAGES)


def test_stages_and_metrics_use_the_design_names(apps: dict[str, AppHandle]) -> None:
    app = apps["on"]
    tenant = seeded(app)
    with app.client() as c:
        c.post("/_stats/reset")
    ask(app, tenant, QUESTION + " exactly")
    stages = httpx.get(f"{app.url}/_stats/hdr", timeout=10).json()["stages"]
    assert {"query.total", "query.cache", "query.embed", "query.retrieve", "query.generate"} <= set(stages)
    assert metric(app, "ragchaos_embed_batch_size_count") >= 1
    assert metric(app, "ragchaos_cache_requests_total", layer="response", result="miss") >= 1
    assert metric(app, "ragchaos_provider_tokens_total", kind="completion") > 0


# -- fallbacks and streaming ---------------------------------------------------------------------


def test_a_chat_outage_serves_a_retrieval_only_answer_that_is_not_cached(
    apps: dict[str, AppHandle], provider: Endpoint
) -> None:
    app = apps["on"]
    tenant = seeded(app)
    faults = f"{provider.url}/_control/faults"
    fault = httpx.post(faults, json={"kind": "error", "endpoint": "chat", "key": app.key, "status": 503},
                       timeout=10).json()["id"]
    try:
        r = ask(app, tenant, QUESTION)
    finally:
        httpx.delete(f"{faults}/{fault}", timeout=10)
    body = r.json()
    assert body["degraded"] == "chat_unavailable" and r.headers["x-degraded"] == "chat_unavailable"
    assert body["sources"] and body["sources"][0]["doc_id"] == "refunds"
    assert "unavailable" in body["answer"]
    assert metric(app, "ragchaos_fallback_total", kind="retrieval_only") >= 1
    healthy = ask(app, tenant, QUESTION)  # the degraded answer was not cached
    assert healthy.headers["x-cache"] == "MISS" and healthy.json()["degraded"] is False


def test_streaming_gives_the_same_answer_and_sources(apps: dict[str, AppHandle]) -> None:
    app = apps["exact_off"]
    tenant = seeded(app)
    plain = ask(app, tenant, QUESTION).json()
    with app.client() as c:
        r = c.post("/v1/query", json={"tenant": tenant, "question": QUESTION, "stream": True})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    deltas = "".join(e["content"] for e in events if e["type"] == "delta")
    (done,) = [e for e in events if e["type"] == "done"]
    assert deltas == done["answer"] == plain["answer"]
    assert done["sources"] == plain["sources"]


# -- every data-path switch switches --------------------------------------------------------------


def test_pooling_switch(apps: dict[str, AppHandle]) -> None:
    for name in ("on", "core_off"):
        ask(apps[name], seeded(apps[name]), QUESTION)
    assert mechanisms(apps["on"])["clients_created"] == {"openai": 1, "chroma": 1}
    off = mechanisms(apps["core_off"])["clients_created"]
    assert off["openai"] >= 3 and off["chroma"] >= 3  # a new client per call


def test_batching_bulk_upsert_and_queue_switches(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["core_off"]
    calls, upserts = embed_calls(provider, app), mechanisms(app)["upsert_calls"]
    with app.client() as c:
        r = c.post("/v1/documents", json={"tenant": new_tenant(), "doc_id": "ten", "text": document("garden", 10, 4)})
        assert r.status_code == 200 and r.json() == {"doc_id": "ten", "chunks": 10, "state": "done"}  # inline
        assert c.get("/v1/jobs/0123456789abcdef0123456789abcdef").status_code == 404
    assert embed_calls(provider, app) - calls == 10  # one call per chunk
    assert mechanisms(app)["upsert_calls"] - upserts == 10  # one upsert per vector
    assert mechanisms(app)["queue"] is None


def test_cache_switch_turns_off_every_layer(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["core_off"]
    tenant = seeded(app)
    chats = chat_calls(provider, app)
    for question in (QUESTION, QUESTION, PARAPHRASE):
        r = ask(app, tenant, question)
        assert r.headers["x-cache"] == "BYPASS" and r.json()["cached"] is None
    assert chat_calls(provider, app) == chats + 3
    assert metric(app, "ragchaos_cache_requests_total") == 0


def test_response_and_semantic_cache_switches(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["exact_off"]
    tenant = seeded(app)
    chats, embeds = chat_calls(provider, app), embed_calls(provider, app)
    who = "customer " + "".join(c for c in tenant if c.isalpha())  # questions no earlier test embedded
    fresh, paraphrase = (q.replace("returns", f"returns of {who}") for q in (QUESTION, PARAPHRASE))
    for question in (fresh, fresh, paraphrase):
        r = ask(app, tenant, question)
        assert r.headers["x-cache"] == "BYPASS" and r.json()["cached"] is None  # no answer cache on
    assert chat_calls(provider, app) == chats + 3
    # the layers still on did their part: the repeat reused the question's embedding and retrieval
    assert embed_calls(provider, app) == embeds + 2
    assert metric(app, "ragchaos_cache_requests_total", layer="embedding", result="hit") >= 1
    assert metric(app, "ragchaos_cache_requests_total", layer="retrieval", result="hit") >= 1
    assert metric(app, "ragchaos_cache_requests_total", layer="semantic") == 0


def test_embedding_and_retrieval_cache_switches(apps: dict[str, AppHandle], provider: Endpoint) -> None:
    app = apps["layers_off"]
    tenant = seeded(app)
    embeds = embed_calls(provider, app)
    ask(app, tenant, QUESTION)
    ask(app, tenant, QUESTION)
    assert embed_calls(provider, app) == embeds + 2
    assert metric(app, "ragchaos_cache_requests_total") == 0
    on = mechanisms(app)
    assert {"embedding_cache", "retrieval_cache", "response_cache", "semantic_cache"} <= set(on["off"])
    assert "cache" in on["on"]  # the umbrella name itself was not used
