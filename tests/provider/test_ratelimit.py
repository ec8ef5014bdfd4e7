"""Token buckets and the rate limiter, on an injected clock (no waiting)."""

from __future__ import annotations

import math

import pytest

from ragchaos.provider.ratelimit import RateLimiter, TokenBucket, go_duration


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


def test_burst_window_holds_that_share_of_the_minute_and_refills_at_the_minute_rate() -> None:
    """480 RPM over a 2 s window: 16 requests at once, then 8 a second; the headers keep 480."""
    clock = Clock()
    limiter = RateLimiter(rpm=480, tpm=240_000, clock=clock, window_s=2.0)
    admitted = 0
    while limiter.admit(100, "m").refusal is None:
        admitted += 1
    assert admitted == 16
    refused = limiter.admit(100, "m")
    assert refused.refusal is not None and refused.refusal.status == 429
    assert refused.headers["retry-after-ms"] == "125"  # one request refills in 1/8 s
    assert refused.headers["x-ratelimit-limit-requests"] == "480"
    clock.now += 0.5
    assert sum(limiter.admit(100, "m").refusal is None for _ in range(10)) == 4


def test_request_bigger_than_the_window_but_within_the_minute_waits_for_a_full_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=480, tpm=6_000, clock=clock, window_s=1.0)  # 100 tokens a window
    assert limiter.admit(150, "m").refusal is None  # full bucket: admitted, overdrawn to -50
    assert limiter.admit(10, "m").refusal is not None
    clock.now += 1.5  # back to 100 = full
    assert limiter.admit(150, "m").refusal is None
    too_big = limiter.admit(6_001, "m").refusal
    assert too_big is not None and "Request too large" in too_big.body["error"]["message"]


def test_reset_refills_both_buckets() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=60, tpm=1_000, clock=clock, window_s=60.0)
    for _ in range(10):
        assert limiter.admit(100, "m").refusal is None
    assert limiter.admit(100, "m").refusal is not None
    limiter.reset()
    assert limiter.admit(100, "m").refusal is None
    assert int(limiter.peek_headers()["x-ratelimit-remaining-tokens"]) == 900
