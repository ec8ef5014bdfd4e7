"""Per key and endpoint family rate limits: requests and tokens per minute as token buckets.

Each bucket refills continuously at ``limit / 60`` per second and holds ``limit * window_s / 60``
(the burst window; 60 s holds a whole minute's budget). Real providers enforce limits over short
windows: OpenAI's rate-limit guide says limits may be quantized, e.g. 60,000 RPM enforced as
1,000 requests per second, so a burst above the per-minute rate meets 429s within seconds, not
after a minute. The headers still report the per-minute limit, as OpenAI's do. A request must fit both buckets or it is refused and nothing is spent. The clock is
injected, so unit tests never wait.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ragchaos.provider.errors import ApiError, error_body

__all__ = ["Decision", "RateLimiter", "TokenBucket", "go_duration"]


def go_duration(seconds: float) -> str:
    """Format like Go's time.Duration, rounded to milliseconds: "0s", "12ms", "1.5s", "6m0s"."""
    ms = math.ceil(max(seconds, 0.0) * 1000.0 - 1e-9)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


class TokenBucket:
    """``capacity`` units, refilled at ``rate`` units per second, read at ``clock()`` times."""

    __slots__ = ("capacity", "clock", "rate", "_level", "_at")

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float]) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.clock = clock
        self._level = float(capacity)
        self._at = clock()

    def level(self) -> float:
        now = self.clock()
        if now > self._at:
            self._level = min(self.capacity, self._level + (now - self._at) * self.rate)
            self._at = now
        return self._level

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` units are available (inf if it exceeds the capacity)."""
        if amount > self.capacity:
            return math.inf
        missing = amount - self.level()
        return 0.0 if missing <= 0 else missing / self.rate

    def time_to_full(self) -> float:
        return (self.capacity - self.level()) / self.rate if self.rate > 0 else 0.0

    def take(self, amount: float) -> None:
        self._level = self.level() - amount


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one admission: the headers to send, and the refusal if there is one."""

    headers: dict[str, str]
    refusal: ApiError | None


class RateLimiter:
    """The RPM and TPM buckets of one API key for one endpoint family."""

    def __init__(self, rpm: int, tpm: int, clock: Callable[[], float], window_s: float = 60.0) -> None:
        self.rpm = rpm
        self.tpm = tpm
        share = window_s / 60.0
        # at least one request's worth, so a single request always fits an idle bucket
        self.requests = TokenBucket(max(1.0, rpm * share), rpm / 60.0, clock)
        self.tokens = TokenBucket(max(1.0, tpm * share), tpm / 60.0, clock)
        self.clock = clock

    def reset(self) -> None:
        """Both buckets full again, as after an idle minute."""
        self.requests = TokenBucket(self.requests.capacity, self.requests.rate, self.clock)
        self.tokens = TokenBucket(self.tokens.capacity, self.tokens.rate, self.clock)

    def peek_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit-requests": str(self.rpm),
            "x-ratelimit-limit-tokens": str(self.tpm),
            "x-ratelimit-remaining-requests": str(int(self.requests.level())),
            "x-ratelimit-remaining-tokens": str(int(self.tokens.level())),
            "x-ratelimit-reset-requests": go_duration(self.requests.time_to_full()),
            "x-ratelimit-reset-tokens": go_duration(self.tokens.time_to_full()),
        }

    def admit(self, tokens: int, model: str) -> Decision:
        """Spend one request and ``tokens`` tokens, or refuse with OpenAI's 429."""
        wait_requests = self.requests.wait_for(1)
        # a request bigger than a short window's share but within the per-minute limit waits for
        # a full bucket and then overdraws it (it is refused only if it exceeds the minute's limit)
        wait_tokens = math.inf if tokens > self.tpm else self.tokens.wait_for(min(tokens, self.tokens.capacity))
        if wait_requests == 0.0 and wait_tokens == 0.0:
            self.requests.take(1)
            self.tokens.take(tokens)
            return Decision(self.peek_headers(), None)
        headers = self.peek_headers()
        if wait_requests > 0.0:
            kind, unit, limit, used, requested, wait = (
                "requests", "RPM", self.rpm, self.rpm - int(self.requests.level()), 1, wait_requests)
        else:
            kind, unit, limit, used, requested, wait = (
                "tokens", "TPM", self.tpm, self.tpm - int(self.tokens.level()), tokens, wait_tokens)
        if math.isinf(wait):  # bigger than a whole minute's budget: waiting cannot help
            message = (f"Request too large for {model} in organization org-ragchaos on tokens per min (TPM): "
                       f"Limit {limit}, Requested {requested}. The input or output tokens must be reduced "
                       "in order to run successfully.")
            return Decision(headers, ApiError(429, error_body(message, kind, None, "rate_limit_exceeded"), headers))
        message = (f"Rate limit reached for {model} in organization org-ragchaos on {kind} per min ({unit}): "
                   f"Limit {limit}, Used {used}, Requested {requested}. Please try again in {go_duration(wait)}. "
                   "Visit https://platform.openai.com/account/rate-limits to learn more.")
        headers["retry-after"] = str(max(1, math.ceil(wait)))
        headers["retry-after-ms"] = str(max(1, math.ceil(wait * 1000.0)))
        return Decision(headers, ApiError(429, error_body(message, kind, None, "rate_limit_exceeded"), headers))
