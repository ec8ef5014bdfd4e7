"""The shared app shell: JSON errors (never a 500 for bad input), request ids, ops routes.

In-process through httpx's ASGI transport; the one dependency call (to a closed port) shows
that a dead dependency is a 502 naming it, not a crash.
"""

from __future__ import annotations

import json

import httpx
import pytest

from ragchaos.core.ports import free_port
from ragchaos.measure.metrics import AppMetrics
from ragchaos.measure.ops import instrument_app
from ragchaos.measure.stages import StageRecorder
from ragchaos.naive_app.app import NaiveSettings, create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
def client() -> httpx.AsyncClient:
    closed = free_port()  # nothing listens there
    settings = NaiveSettings(
        app_name="naive",
        naive_variant="no-retries",  # a dead dependency fails at once, not after the SDK's backoff
        provider_url=f"http://127.0.0.1:{closed}/v1",
        chroma_port=closed,
        max_body_bytes=4096,
        max_doc_chars=1000,
        max_question_chars=50,
        max_top_k=5,
    )
    app = create_app(settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://app")


def err(resp: httpx.Response) -> dict:
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"type", "message"}, body
    return body["error"]


BAD_QUERIES = [
    ({"question": "q"}, 422, "tenant"),
    ({"tenant": "t", "question": ""}, 422, "question"),
    ({"tenant": "t", "question": "   "}, 422, "question"),
    ({"tenant": "t", "question": "x" * 51}, 422, "question"),
    ({"tenant": "t", "question": "q", "top_k": 0}, 422, "top_k"),
    ({"tenant": "t", "question": "q", "top_k": "5"}, 422, "top_k"),  # above the maximum is clamped, not refused
    ({"tenant": "t", "question": "q", "top_k": True}, 422, "top_k"),
    ({"tenant": "t", "question": "q", "top_k": "many"}, 422, "top_k"),
    ({"tenant": "bad tenant!", "question": "q"}, 422, "tenant"),
    ({"tenant": "t", "question": "q", "filters": {"tenant": "other"}}, 422, "reserved"),
    ({"tenant": "t", "question": "q", "filters": {"k": {"nested": 1}}}, 422, "filters"),
    ({"tenant": "t", "question": "q", "unknown": 1}, 422, "unknown"),
    ([1, 2], 422, "body"),
]


@pytest.mark.parametrize(("body", "status", "mentions"), BAD_QUERIES)
async def test_bad_queries_are_4xx_json(client: httpx.AsyncClient, body: object, status: int, mentions: str) -> None:
    resp = await client.post("/v1/query", json=body)
    assert resp.status_code == status
    assert mentions in err(resp)["message"]


async def test_not_json_is_400(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/query", content=b"{nope", headers={"content-type": "application/json"})
    assert resp.status_code == 400
    assert err(resp)["type"] == "invalid_request"


async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    body = json.dumps({"tenant": "t", "doc_id": "d", "text": "x" * 5000}).encode()
    resp = await client.post("/v1/documents", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert err(resp)["type"] == "body_too_large"


async def test_oversized_document_is_413(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/documents", json={"tenant": "t", "doc_id": "d", "text": "x" * 1001})
    assert resp.status_code == 413
    assert err(resp)["type"] == "document_too_large"


async def test_bad_document_ids_are_422(client: httpx.AsyncClient) -> None:
    for body in ({"tenant": "t", "doc_id": "", "text": "x"}, {"tenant": "t", "doc_id": "a b", "text": "x"},
                 {"tenant": "t", "doc_id": "d", "text": "x", "metadata": {"doc_id": "y"}}):
        resp = await client.post("/v1/documents", json=body)
        assert resp.status_code == 422, body


async def test_unknown_route_is_404_json(client: httpx.AsyncClient) -> None:
    resp = await client.get("/v1/nothing")
    assert resp.status_code == 404
    assert err(resp)["type"] == "not_found"


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    made = (await client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})).headers["x-request-id"]
    assert made and " " not in made
    bad = await client.post("/v1/query", json={})
    assert bad.headers["x-request-id"]


async def test_dead_dependency_is_502_naming_it(client: httpx.AsyncClient) -> None:
    resp = await client.post("/v1/query", json={"tenant": "t", "question": "anything"})
    assert resp.status_code == 502
    assert err(resp)["type"] == "provider_error"
    assert resp.headers["x-request-id"]


@pytest.fixture
def measured() -> httpx.AsyncClient:
    """An app that measures itself, as the reference app does (the naive app does not)."""
    app = create_app(NaiveSettings(app_name="measured"))
    recorder = StageRecorder(strict=True)
    instrument_app(app, metrics=AppMetrics("measured"), recorder=recorder)
    recorder.record_seconds("query.total", 0.01)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://app")


async def test_metrics_expose_every_design_name(measured: httpx.AsyncClient) -> None:
    text = (await measured.get("/metrics")).text
    for name in (
        "ragchaos_cache_requests_total", "ragchaos_retries_total", "ragchaos_breaker_state",
        "ragchaos_breaker_transitions_total", "ragchaos_shed_total", "ragchaos_embed_batch_size",
        "ragchaos_quota_rejections_total", "ragchaos_fallback_total", "ragchaos_provider_tokens_total",
    ):
        assert name in text, name
    assert 'ragchaos_cache_requests_total{layer="semantic",result="hit"} 0.0' in text


async def test_health_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    assert (await client.get("/readyz")).status_code == 200
    # the shell serves no measurements: an app that wants them adds them
    assert (await client.get("/_stats/hdr")).status_code == 404 and (await client.get("/metrics")).status_code == 404


async def test_hdr_stats(measured: httpx.AsyncClient) -> None:
    stats = (await measured.get("/_stats/hdr")).json()
    assert stats["unit"] == "us"
    assert stats["stages"]["query.total"]["count"] == 1
    assert (await measured.post("/_stats/reset")).status_code == 200
    assert (await measured.get("/_stats/hdr")).json()["stages"] == {}
