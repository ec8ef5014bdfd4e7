"""Rate limits and quota as the SDK sees them: RateLimitError, its body and its headers."""

from __future__ import annotations

import time

import openai
import pytest

from tests.provider.conftest import Provider

RATE_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
                "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")


def test_success_carries_ratelimit_headers(prov: Provider) -> None:
    raw = prov.client("k3").embeddings.with_raw_response.create(model="m", input="hello")
    assert raw.headers["x-ratelimit-limit-requests"] == "500"  # the documented default tier
    assert raw.headers["x-ratelimit-limit-tokens"] == "1000000"
    assert int(raw.headers["x-ratelimit-remaining-requests"]) == 499
    assert raw.headers["x-ratelimit-reset-requests"].endswith(("ms", "s"))
    assert raw.headers["x-request-id"].startswith("req_")


def test_request_after_the_budget_is_refused_then_the_bucket_refills(prov: Provider) -> None:
    """Key rpm120: a bucket of 120 requests refilled at 2 a second."""
    client = prov.client("rpm120")
    started = time.monotonic()
    allowed = 0
    with pytest.raises(openai.RateLimitError) as info:
        for _ in range(1000):
            client.embeddings.create(model="text-embedding-3-small", input="x")
            allowed += 1
    elapsed = time.monotonic() - started
    # the whole minute's budget, plus whatever refilled while we were sending (2 per second)
    assert 120 <= allowed <= 120 + int(elapsed * 2) + 1
    err = info.value
    assert err.status_code == 429
    assert err.code == "rate_limit_exceeded" and err.type == "requests"
    assert "on requests per min (RPM): Limit 120" in err.message and "Please try again in" in err.message
    headers = err.response.headers
    for name in RATE_HEADERS:
        assert name in headers
    assert headers["x-ratelimit-remaining-requests"] == "0"
    wait_ms = int(headers["retry-after-ms"])
    assert 0 < wait_ms <= 500  # one request refills in 0.5 s
    assert int(headers["retry-after"]) == 1
    time.sleep(wait_ms / 1000 + 0.05)
    client.embeddings.create(model="text-embedding-3-small", input="x")  # refilled: served again


def test_token_limit_refuses_with_type_tokens(prov: Provider) -> None:
    """Key tpm-small: 600 tokens a minute; 400-token requests fit once."""
    client = prov.client("tpm-small")
    text = "y" * 1600  # 400 tokens
    client.embeddings.create(model="m", input=text)
    with pytest.raises(openai.RateLimitError) as info:
        client.embeddings.create(model="m", input=text)
    assert info.value.type == "tokens" and info.value.code == "rate_limit_exceeded"
    assert "tokens per min (TPM): Limit 600" in info.value.message
    assert float(info.value.response.headers["retry-after-ms"]) > 0
    with pytest.raises(openai.RateLimitError) as too_big:
        client.embeddings.create(model="m", input="z" * 4000)  # 1000 tokens: more than a whole minute's budget
    assert "Request too large" in too_big.value.message


def test_insufficient_quota(prov: Provider) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        prov.client("broke").embeddings.create(model="m", input="x")
    assert info.value.code == "insufficient_quota" and info.value.type == "insufficient_quota"
    assert "retry-after" not in info.value.response.headers
    # the SDK retries it anyway (an ordinary 429); the provider sees the retries
    with pytest.raises(openai.RateLimitError):
        prov.client("broke", max_retries=1).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    stats = prov.stats("broke", "chat")
    assert stats["requests"] == 2 and stats["retries_seen"] == 1 and stats["rate_limited"] == 2


def test_control_reset_refills_one_keys_buckets(prov: Provider) -> None:
    client = prov.client("rpm120")
    with pytest.raises(openai.RateLimitError):
        for _ in range(1000):
            client.embeddings.create(model="text-embedding-3-small", input="x")
    status, body = prov.call("POST", "/_control/limits/reset", {"key": "rpm120"})
    assert status == 200 and body == {"reset": ["rpm120"]}
    raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    assert int(raw.headers["x-ratelimit-remaining-requests"]) >= 118
    status, body = prov.call("POST", "/_control/limits/reset", {"key": "nobody"})
    assert status == 404 and "nobody" in body["error"]["message"]
    status, body = prov.call("POST", "/_control/limits/reset", {"key": 3})
    assert status == 400


def test_limits_can_be_lifted_and_enforced_again(prov: Provider) -> None:
    client = prov.client("rpm120")
    status, body = prov.call("PUT", "/_control/limits", {"enforced": False})
    assert status == 200 and body == {"enforced": False}
    try:
        for _ in range(130):  # more than the key's 120 a minute: none refused
            client.embeddings.create(model="text-embedding-3-small", input="x")
    finally:
        status, body = prov.call("PUT", "/_control/limits", {"enforced": True})
    assert status == 200 and prov.call("GET", "/_control/limits")[1] == {"enforced": True}
    prov.call("POST", "/_control/limits/reset", {"key": "rpm120"})
    with pytest.raises(openai.RateLimitError):
        for _ in range(1000):
            client.embeddings.create(model="text-embedding-3-small", input="x")
    assert prov.call("PUT", "/_control/limits", {"enforced": "no"})[0] == 400
