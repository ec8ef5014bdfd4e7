"""Token buckets and the rate limiter, on an injected clock (no waiting)."""

from __future__ import annotations

import math

import pytest

from provider.ratelimit import RateLimiter, TokenBucket, go_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (0.0004, "1ms"), (0.012, "12ms"), (0.999, "999ms"), (1, "1s"), (1.5, "1.5s"),
    (20, "20s"), (60, "1m0s"), (179.56, "2m59.56s"), (360, "6m0s"), (3723, "1h2m3s"),
])
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_bucket_spends_and_refills_continuously() -> None:
    clock = Clock()
    bucket = TokenBucket(capacity=10, rate=2.0, clock=clock)
    bucket.take(10)
    assert bucket.level() == 0
    assert bucket.wait_for(1) == pytest.approx(0.5)
    clock.now += 0.25
    assert bucket.level() == pytest.approx(0.5)
    clock.now += 100
    assert bucket.level() == 10  # never above capacity
    assert bucket.wait_for(11) == math.inf


def test_limiter_refuses_the_request_after_the_budget_and_admits_after_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=3, tpm=1000, clock=clock)
    for remaining in (2, 1, 0):
        d = limiter.admit(10, "m")
        assert d.refusal is None and d.headers["x-ratelimit-remaining-requests"] == str(remaining)
    refused = limiter.admit(10, "m")
    assert refused.refusal is not None and refused.refusal.status == 429
    err = refused.refusal.body["error"]
    assert err["type"] == "requests" and err["code"] == "rate_limit_exceeded"
    assert "Limit 3, Used 3, Requested 1. Please try again in 20s." in err["message"]
    assert refused.headers["retry-after"] == "20" and refused.headers["retry-after-ms"] == "20000"
    assert refused.headers["x-ratelimit-reset-requests"] == "1m0s"
    # nothing was spent by the refusal: the tokens bucket is still at 970
    assert refused.headers["x-ratelimit-remaining-tokens"] == "970"
    clock.now += 19.9
    assert limiter.admit(10, "m").refusal is not None
    clock.now += 0.1
    assert limiter.admit(10, "m").refusal is None


def test_limiter_tokens_and_too_large() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=100, tpm=600, clock=clock)
    assert limiter.admit(500, "m").refusal is None
    d = limiter.admit(200, "m")
    assert d.refusal is not None and d.refusal.body["error"]["type"] == "tokens"
    assert d.headers["retry-after-ms"] == "10000"  # 100 missing tokens at 10 a second
    huge = limiter.admit(601, "m")
    assert huge.refusal is not None and "Request too large" in huge.refusal.body["error"]["message"]
    assert "retry-after" not in huge.headers
