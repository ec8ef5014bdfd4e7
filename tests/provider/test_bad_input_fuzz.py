"""Whatever JSON arrives, the provider answers 200 or a 4xx in OpenAI's shape, never a 500."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ragchaos.provider.app import create_app
from ragchaos.provider.config import LatencyConfig, Limits, ProviderConfig

UNLIMITED = Limits(rpm=10**9, tpm=10**12)
APP = create_app(ProviderConfig(latency=LatencyConfig(enabled=False), embeddings_limits=UNLIMITED,
                                chat_limits=UNLIMITED))

scalars = st.none() | st.booleans() | st.integers(-5, 5000) | st.floats(allow_nan=False) | st.text(max_size=20)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                                             max_size=4), max_leaves=12)
embedding_bodies = st.fixed_dictionaries({}, optional={
    "model": values, "input": values, "encoding_format": values, "dimensions": values, "user": values})
chat_bodies = st.fixed_dictionaries({}, optional={
    "model": values, "messages": values | st.lists(st.fixed_dictionaries({}, optional={"role": st.sampled_from(
        ["user", "system", "assistant", "x"]) | values, "content": values}), max_size=3),
    "max_tokens": values, "max_completion_tokens": values, "stream": values, "stream_options": values, "n": values})


async def _post(path: str, raw: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await APP({"type": "http", "method": "POST", "path": path, "query_string": b"",
               "headers": [(b"authorization", b"Bearer test")]}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _check(path: str, body: Any) -> None:
    status, raw = asyncio.run(_post(path, json.dumps(body).encode()))
    assert status in (200, 400), (status, body, raw[:300])
    if status == 400:
        error = json.loads(raw)["error"]
        assert error["type"] == "invalid_request_error" and error["message"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(embedding_bodies)
def test_embeddings_never_500(body: dict[str, Any]) -> None:
    _check("/v1/embeddings", body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chat_bodies)
def test_chat_never_500(body: dict[str, Any]) -> None:
    _check("/v1/chat/completions", body)


@settings(max_examples=100, deadline=None)
@given(values)
def test_control_api_never_500(body: Any) -> None:
    for method, path in (("POST", "/_control/faults"), ("PUT", "/_control/faults")):
        status, raw = asyncio.run(_method(method, path, json.dumps(body).encode()))
        assert status in (200, 400), (status, body, raw[:300])
    APP.faults.clear()


async def _method(method: str, path: str, raw: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await APP({"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])
