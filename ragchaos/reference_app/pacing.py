"""Pacing toward the provider: stay under its RPM/TPM instead of finding the limit by 429s.

Two local token buckets per dependency (requests and tokens), seeded from configured limits and
corrected from the provider's ``x-ratelimit-*`` headers on every response. A call reserves its
request and tokens up front; if the budget is short it waits (within the deadline) rather than
sending a request that would be refused. A 429 is flow control, not failure: it pauses the whole
dependency until its Retry-After, so concurrent callers stop adding to the storm.

Buckets let the level go negative: each reservation queues behind the previous ones, so N
concurrent callers are spread at the provider's rate instead of waking together.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.errors import ReferenceAppError

__all__ = ["LocalPaceStore", "PaceStore", "PaceTimeout", "Pacer", "PacingConfig", "TokenBucket", "parse_duration"]

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


class PacingConfig(BaseModel):
    """Starting estimates of the provider's per-minute limits (headers correct them), the share
    of each limit to aim for, and the pause after a 429 that carries no Retry-After."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embeddings_rpm: float = Field(500, gt=0)
    embeddings_tpm: float = Field(1_000_000, gt=0)
    chat_rpm: float = Field(500, gt=0)
    chat_tpm: float = Field(200_000, gt=0)
    headroom: float = Field(0.9, gt=0, le=1)
    default_pause_s: float = Field(1.0, ge=0)
    # the provider's burst window: it lets ``limit * burst_s / 60`` through at once (60: a whole
    # minute's budget, OpenAI's description; real enforcement is often per second or so)
    burst_s: float = Field(60.0, gt=0, le=60)


class PaceTimeout(ReferenceAppError):
    def __init__(self, wait: float) -> None:
        super().__init__(f"pacing would wait {wait:.3f}s, past the deadline")
        self.wait = wait


def parse_duration(text: str) -> float | None:
    """Go-style durations as the provider sends them (``12ms``, ``1s``, ``6m0s``); plain numbers
    are seconds. None when unparsable."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


class TokenBucket:
    """Pure token bucket on caller-supplied time; ``per_minute`` is the provider's limit."""

    def __init__(self, per_minute: float, headroom: float, now: float, burst_s: float = 60.0) -> None:
        self.headroom = headroom
        self.burst_share = burst_s / 60.0
        self.rate = per_minute * headroom / 60.0
        self.capacity = max(1.0, per_minute * headroom * self.burst_share)
        self.level = self.capacity
        self._at = now

    @property
    def limit(self) -> float:
        """The provider's per-minute limit as we currently believe it."""
        return self.rate * 60.0 / self.headroom

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + max(0.0, now - self._at) * self.rate)
        self._at = max(self._at, now)

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until ``amount`` is available, without taking it."""
        self._refill(now)
        amount = min(amount, self.capacity)  # a request bigger than the bucket waits for a full one
        return max(0.0, (amount - self.level) / self.rate)

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= min(amount, self.capacity)

    def sync(self, limit: float | None, remaining: float | None, now: float) -> None:
        """Adopt the provider's view: its limit sizes the bucket, its remaining budget (minus
        our headroom share) caps what we think is left."""
        self._refill(now)
        if limit is not None and limit > 0:
            self.rate = limit * self.headroom / 60.0
            self.capacity = max(1.0, limit * self.headroom * self.burst_share)
            self.level = min(self.level, self.capacity)
        if remaining is not None and remaining >= 0:
            # the provider's remaining budget is its window's; keep our headroom share of that window
            reserve = self.capacity / self.headroom - self.capacity
            self.level = min(self.level, remaining - reserve)


class PaceStore(Protocol):
    """Where the fleet's pacing budget lives, if anywhere but this replica's buckets."""

    async def reserve(
        self, requests: TokenBucket, tokens: TokenBucket | None, amount: float, max_wait: float
    ) -> tuple[bool, float] | None:
        """Reserve one request and ``amount`` tokens from the shared budget sized as the local
        buckets believe: (reserved, seconds to wait), or None to pace on the local buckets."""
        ...

    def pause(self, seconds: float) -> None:
        """Share a 429's pause with the fleet."""
        ...


class LocalPaceStore:
    """One replica: the local buckets are the budget."""

    async def reserve(
        self, requests: TokenBucket, tokens: TokenBucket | None, amount: float, max_wait: float
    ) -> tuple[bool, float] | None:
        return None

    def pause(self, seconds: float) -> None:
        return None


class Pacer:
    def __init__(
        self,
        rpm: float,
        tpm: float | None,
        *,
        headroom: float = 0.9,
        default_pause_s: float = 1.0,
        burst_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]],
        store: PaceStore | None = None,
    ) -> None:
        now = clock()
        self.store: PaceStore = store if store is not None else LocalPaceStore()
        self.requests = TokenBucket(rpm, headroom, now, burst_s)
        self.tokens = TokenBucket(tpm, headroom, now, burst_s) if tpm else None
        self.default_pause_s = default_pause_s
        self.paused_until = 0.0
        self.pauses = 0
        self.waited_s = 0.0
        self._clock = clock
        self._sleep = sleep

    def plan(self, tokens: float) -> float:
        """Seconds this call would have to wait now (no reservation)."""
        now = self._clock()
        wait = max(self.paused_until - now, self.requests.wait_for(1, now))
        if self.tokens is not None and tokens > 0:
            wait = max(wait, self.tokens.wait_for(tokens, now))
        return wait

    async def acquire(self, tokens: float, deadline: Deadline) -> float:
        """Reserve budget for one request, waiting if needed; ``PaceTimeout`` if the wait would
        outlast the deadline (nothing is reserved then). Returns the seconds waited."""
        shared = await self.store.reserve(self.requests, self.tokens, float(tokens), max(0.0, deadline.remaining()))
        if shared is not None:
            reserved, wait = shared
            if not reserved:
                raise PaceTimeout(wait)
        else:
            wait = self.plan(tokens)
            if wait >= deadline.remaining():
                raise PaceTimeout(wait)
            now = self._clock()
            self.requests.take(1, now)
            if self.tokens is not None and tokens > 0:
                self.tokens.take(tokens, now)
        if wait > 0:
            self.waited_s += wait
            await self._sleep(wait)
        return wait

    def pause(self, seconds: float | None) -> None:
        """A 429: hold every caller of this dependency until the provider's Retry-After."""
        self.pauses += 1
        seconds = self.default_pause_s if seconds is None else seconds
        self.paused_until = max(self.paused_until, self._clock() + seconds)
        if seconds > 0:
            self.store.pause(seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        now = self._clock()
        self.requests.sync(
            _num(headers, "x-ratelimit-limit-requests"), _num(headers, "x-ratelimit-remaining-requests"), now
        )
        if self.tokens is not None:
            self.tokens.sync(
                _num(headers, "x-ratelimit-limit-tokens"), _num(headers, "x-ratelimit-remaining-tokens"), now
            )
        if _num(headers, "x-ratelimit-remaining-requests") == 0:
            reset = parse_duration(headers.get("x-ratelimit-reset-requests", ""))
            if reset:
                self.paused_until = max(self.paused_until, now + reset)


def _num(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 else None  # Azure has sent -1: "unknown", not a limit
