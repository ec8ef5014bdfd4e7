"""GET /_stats and POST /_stats/reset: what the provider counted, per key and endpoint."""

from __future__ import annotations

import openai
import pytest

from ragchaos.measure.hdr import Histogram
from tests.provider.conftest import Provider


def test_stats_count_requests_tokens_cost_and_service_time(prov: Provider) -> None:
    client = prov.client("k17")
    texts = ["alpha beta gamma", "delta epsilon"]
    for _ in range(3):
        client.embeddings.create(model="text-embedding-3-small", input=texts)
    out = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}])
    prov.add_fault(kind="error", status=502, key="k17", endpoint="embeddings")
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="text-embedding-3-small", input="x")

    emb = prov.stats("k17", "embeddings")
    tokens = 3 * sum((len(t) + 3) // 4 for t in texts)
    assert emb["requests"] == 4 and emb["inputs"] == 6 and emb["tokens_in"] == tokens and emb["tokens_out"] == 0
    assert emb["errors"] == 1 and emb["faults_injected"] == 1 and emb["rate_limited"] == 0
    assert emb["cost_usd"] == pytest.approx(tokens * 0.02 / 1e6)
    hist = Histogram.decode(emb["service_time"]["hdr"])
    assert hist.count == emb["service_time"]["count"] == 4
    assert hist.max_us < 10_000_000

    chat = prov.stats("k17", "chat")
    assert out.usage is not None
    assert chat["requests"] == 1 and chat["tokens_in"] == out.usage.prompt_tokens
    assert chat["tokens_out"] == out.usage.completion_tokens
    assert chat["cost_usd"] == pytest.approx((out.usage.prompt_tokens * 0.15 + out.usage.completion_tokens * 0.60) / 1e6)


def test_retries_seen_counts_the_sdk_retry_header(prov: Provider) -> None:
    client = prov.client("k18")
    client.embeddings.create(model="m", input="x")  # the SDK sends x-stainless-retry-count: 0
    client.embeddings.create(model="m", input="x",
                             extra_headers={"x-stainless-retry-count": "3", "x-harness-request-id": "q-42"})
    prov.call("POST", "/v1/embeddings", {"model": "m", "input": "x"},
              headers={"authorization": "Bearer k18", "x-stainless-retry-count": "not-a-number"})
    stats = prov.stats("k18")
    assert stats["requests"] == 3 and stats["retries_seen"] == 1
    log = prov.call("GET", "/_stats/requests?key=k18")[1]["requests"]
    assert [(r["retry_count"], r["correlation_id"]) for r in log] == [(0, None), (3, "q-42"), (0, None)]


def test_reset_zeroes_everything(prov: Provider) -> None:
    prov.client("k19").embeddings.create(model="m", input="x")
    before = prov.call("GET", "/_stats")[1]
    assert before["keys"]["k19"]["embeddings"]["requests"] == 1
    status, body = prov.call("POST", "/_stats/reset")
    assert status == 200 and body["since"] >= before["since"]
    after = prov.call("GET", "/_stats")[1]
    assert after["keys"] == {} and after["since"] == body["since"]
    assert prov.call("GET", "/_stats/requests")[1] == {"requests": []}
