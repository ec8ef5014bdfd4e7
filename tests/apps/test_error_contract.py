"""The documented error contract (docs/apps.md, "Errors and limits") is what both apps answer.

Each case is one row of that table, sent to each app in-process (a refusal happens before any
dependency is called, so none is running: a request that got past validation would fail with a
502 and the test with it). The pair "status `type`" of every case must also be written in the
table, so the page and the code cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragchaos.kit.settings import AppSettings
from ragchaos.naive_app.app import create_app as create_naive
from ragchaos.reference_app.app import create_app as create_reference
from ragchaos.reference_app.settings import ReferenceSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "apps.md"
Q = {"tenant": "t1", "question": "what is it?"}
D = {"tenant": "t1", "doc_id": "d1", "text": "some text"}
SMALL_BODY = 4096

# (what, path, json body or raw bytes, status, type)
CASES: list[tuple[str, str, Any, int, str]] = [
    ("body past the limit (sized)", "/v1/query", b"{" + b" " * SMALL_BODY + b"}", 413, "body_too_large"),
    ("body not JSON", "/v1/query", b"{nope", 400, "invalid_request"),
    ("missing field", "/v1/query", {"tenant": "t1"}, 422, "invalid_request"),
    ("extra field", "/v1/query", {**Q, "nope": 1}, 422, "invalid_request"),
    ("bad tenant", "/v1/query", {**Q, "tenant": "-x"}, 422, "invalid_request"),
    ("blank text", "/v1/documents", {**D, "text": "  "}, 422, "invalid_request"),
    ("text past the limit", "/v1/documents", {**D, "text": "x" * 1001}, 413, "document_too_large"),
    ("question past the limit", "/v1/query", {**Q, "question": "x" * 2001}, 422, "invalid_request"),
    ("top_k a string", "/v1/query", {**Q, "top_k": "5"}, 422, "invalid_request"),
    ("top_k a boolean", "/v1/query", {**Q, "top_k": True}, 422, "invalid_request"),
    ("top_k a float", "/v1/query", {**Q, "top_k": 5.0}, 422, "invalid_request"),
    ("top_k zero", "/v1/query", {**Q, "top_k": 0}, 422, "invalid_request"),
    ("metadata operator key", "/v1/documents", {**D, "metadata": {"$bad": 1}}, 422, "invalid_request"),
    ("metadata reserved key", "/v1/documents", {**D, "metadata": {"tenant": "t2"}}, 422, "invalid_request"),
    ("metadata nested value", "/v1/documents", {**D, "metadata": {"a": {"b": 1}}}, 422, "invalid_request"),
    ("metadata past int64", "/v1/documents", {**D, "metadata": {"a": 2**64}}, 422, "invalid_request"),
    ("filter $and", "/v1/query", {**Q, "filters": {"$and": 1}}, 422, "invalid_request"),
    ("filter $in", "/v1/query", {**Q, "filters": {"$in": "x"}}, 422, "invalid_request"),
    ("filter operator value", "/v1/query", {**Q, "filters": {"a": {"$gt": 1}}}, 422, "invalid_request"),
    ("filter list value", "/v1/query", {**Q, "filters": {"a": [1, 2]}}, 422, "invalid_request"),
    ("filter NaN", "/v1/query", b'{"tenant": "t1", "question": "q", "filters": {"a": NaN}}', 422, "invalid_request"),
    ("unknown route", "/v1/nope", {}, 404, "not_found"),
]


def _settings(**limits: Any) -> dict[str, Any]:
    return {"max_body_bytes": SMALL_BODY, "max_doc_chars": 1000, **limits}


@pytest.fixture(scope="module", params=["naive", "reference"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    if request.param == "naive":
        app = create_naive(AppSettings(**_settings(), provider_url="http://127.0.0.1:9/v1", chroma_port=9))
    else:
        app = create_reference(ReferenceSettings(**_settings(), app_name="reference", disable="queue",
                                                 provider_url="http://127.0.0.1:9/v1", chroma_port=9,
                                                 data_dir=tmp_path_factory.mktemp("ref")))
    yield TestClient(app, raise_server_exceptions=False)


def _send(client: TestClient, path: str, body: Any) -> Any:
    if isinstance(body, bytes):
        return client.post(path, content=body, headers={"content-type": "application/json"})
    return client.post(path, json=body)


@pytest.mark.parametrize(("what", "path", "body", "status", "type_"), CASES, ids=[c[0] for c in CASES])
def test_each_documented_refusal(client: TestClient, what: str, path: str, body: Any, status: int, type_: str) -> None:
    r = _send(client, path, body)
    assert r.status_code == status, (what, r.text)
    error = r.json()["error"]
    assert error["type"] == type_ and error["message"], (what, r.text)


def test_a_chunked_body_past_the_limit_is_413_like_a_sized_one(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"tenant": "t1", "question": "'
        for _ in range(SMALL_BODY // 100 + 2):
            yield b"x" * 100
        yield b'"}'

    r = client.post("/v1/query", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413 and r.json()["error"]["type"] == "body_too_large", r.text


def test_the_framework_never_answers_another_type(client: TestClient) -> None:
    r = client.post("/v1/query", content=b"{}", headers={"content-type": "application/json", "content-length": "x"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request", r.text
    r = client.get("/v1/query")
    assert r.status_code == 405 and r.json()["error"]["type"] == "method_not_allowed", r.text


def test_every_status_and_type_is_in_the_docs_table() -> None:
    text = DOCS.read_text()
    table = text[text.index("### Errors and limits"):text.index("Reference only:")]
    for what, _path, _body, status, type_ in CASES:
        rows = [row for row in table.splitlines() if re.search(rf"\b{status}\b", row) and f"`{type_}`" in row]
        assert rows, f"{what}: {status} `{type_}` is not in docs/apps.md's error table"
