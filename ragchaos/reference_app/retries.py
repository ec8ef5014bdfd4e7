"""Retries with exponential backoff and jitter that honour Retry-After and stay inside the deadline.

The shape is tenacity's (small strategies reading one state, a decision function, a thin async
driver), but the decision is one pure function, ``next_step``: it needs the request's remaining
budget and must say *why* it gives up (``deadline`` vs ``retries_exhausted``), which tenacity's
boolean ``stop`` cannot report, and it takes the random draw as an argument so tests need no
event loop. The SDK's own retries are off (``max_retries=0``), so every retry happens here and is
counted by reason.

What is retried: 429 rate limits (never ``insufficient_quota``: more attempts cannot fix a billing
problem), 5xx, timeouts and connection errors. Nothing else, and nothing a server marked
``x-should-retry: false``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
import httpx2
import openai
from chromadb.errors import ChromaError
from pydantic import BaseModel, ConfigDict, Field

from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.errors import ReferenceAppError

__all__ = [
    "FailedFast",
    "Failure",
    "GaveUp",
    "RetryConfig",
    "Retrier",
    "Step",
    "backoff_delay",
    "classify",
    "next_step",
    "retry_after_hint",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """What a failed attempt means. ``retryable``: another attempt may succeed. ``unhealthy``: the
    dependency itself is failing (the breaker counts it). A 429 is retryable but healthy: the
    provider is answering and asking us to slow down, which pacing handles (flow control); letting
    a 429 storm open the breaker would turn a slowdown into an outage of fallbacks."""

    reason: str
    retryable: bool
    unhealthy: bool
    retry_after: float | None = None


def retry_after_hint(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds from ``retry-after-ms`` (preferred, as the SDK does), else ``retry-after`` as
    seconds or an HTTP date. None when absent or unparsable."""
    ms = headers.get("retry-after-ms")
    if ms:
        with contextlib.suppress(ValueError):
            value = float(ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - now())
    except (TypeError, ValueError, IndexError):
        return None


def _is_insufficient_quota(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, Mapping) else {}
    error = body["error"] if isinstance(body.get("error"), Mapping) else body
    codes = {exc.code, exc.type, error.get("code"), error.get("type")}
    return bool(codes & {"insufficient_quota", "credit_balance_exhausted"})


def _by_status(status: int, headers: Mapping[str, str]) -> Failure:
    hint = retry_after_hint(headers)
    if status == 429:
        return Failure("rate_limited", True, False, hint)
    if status >= 500:
        return Failure("server_error", True, True, hint)
    return Failure("client_error", False, False)


class FailedFast(ReferenceAppError):
    """Base of errors a guard already decided on (``DependencyUnavailable``): if one reaches an
    outer guard it is neither retried nor counted against that dependency's health again."""


def classify(exc: BaseException, *, _depth: int = 0) -> Failure:
    """Map an exception from the openai SDK, httpx/httpx2 (Chroma's client), Chroma or asyncio."""
    if isinstance(exc, FailedFast):
        return Failure("unavailable", False, False)
    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        if exc.status_code == 429 and _is_insufficient_quota(exc):
            return Failure("insufficient_quota", False, False)
        failure = _by_status(exc.status_code, headers)
        if headers.get("x-should-retry", "").lower() == "false":
            return Failure(failure.reason, False, failure.unhealthy)
        return failure
    if isinstance(
        exc, openai.APITimeoutError | httpx.TimeoutException | httpx2.TimeoutException | TimeoutError
    ):
        return Failure("timeout", True, True)
    if isinstance(
        exc, openai.APIConnectionError | httpx.TransportError | httpx2.TransportError | ConnectionError
    ):
        return Failure("connection", True, True)
    if isinstance(exc, httpx.HTTPStatusError | httpx2.HTTPStatusError):
        return _by_status(exc.response.status_code, exc.response.headers)
    if isinstance(exc, ChromaError):
        return _by_status(exc.code(), {})
    # An unknown wrapper around a known failure is that failure: Chroma's client turns a refused
    # connection into ValueError("Could not connect ...") raised while handling httpx.ConnectError.
    inner = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if inner is not None and _depth < 5:
        return classify(inner, _depth=_depth + 1)
    return Failure("error", False, False)


class RetryConfig(BaseModel):
    """``max_attempts`` counts the first try. Backoff for retry n (0-based) is drawn from
    [base/2, base] with base = min(max_backoff_s, initial_backoff_s * 2**n) ("equal jitter": spread
    out, yet never a hammering near-zero gap). A Retry-After hint is used instead, plus up to
    ``hint_jitter`` of itself so clients refused together do not return together; a hint longer
    than ``max_retry_after_s`` means "not soon", so the call gives up at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(4, ge=1)
    initial_backoff_s: float = Field(0.2, gt=0)
    max_backoff_s: float = Field(4.0, gt=0)
    max_retry_after_s: float = Field(30.0, ge=0)
    hint_jitter: float = Field(0.1, ge=0)


@dataclass(frozen=True)
class Step:
    """The decision after a failed attempt: sleep ``delay`` then retry, or give up for ``reason``."""

    retry: bool
    delay: float = 0.0
    reason: str = ""


class GaveUp(ReferenceAppError):
    """Retrying stopped early; ``failure`` is the last attempt's (None if none was made)."""

    def __init__(self, reason: str, failure: Failure | None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure = failure
        self.retry_after = retry_after


def backoff_delay(config: RetryConfig, retries_taken: int, draw: float) -> float:
    base = min(config.max_backoff_s, config.initial_backoff_s * 2 ** min(retries_taken, 60))
    return base * (0.5 + 0.5 * draw)


def next_step(
    config: RetryConfig,
    attempt: int,
    failure: Failure,
    remaining: float,
    draw: float,
    *,
    max_attempts: int | None = None,
    min_attempt_s: float = 0.0,
) -> Step:
    """Pure decision after failed attempt number ``attempt`` (1-based) with ``remaining`` seconds
    of deadline left and ``draw`` a uniform [0, 1) number."""
    if not failure.retryable:
        return Step(False, reason="not_retryable")
    hint = failure.retry_after
    if hint is not None and hint > config.max_retry_after_s:
        return Step(False, reason="retry_after_too_long")
    if attempt >= (max_attempts or config.max_attempts):
        return Step(False, reason="retries_exhausted")
    if hint is not None and hint > 0:
        delay = hint * (1 + config.hint_jitter * draw)
    else:
        delay = backoff_delay(config, attempt - 1, draw)
    if delay + min_attempt_s > remaining:
        # never sleep past the deadline: better to fail now and let the caller fall back
        return Step(False, reason="deadline")
    return Step(True, delay=delay)


class Retrier:
    """Thin async driver around ``next_step``; ``sleep`` and ``rng`` are injected."""

    def __init__(
        self,
        config: RetryConfig,
        *,
        sleep: Callable[[float], Awaitable[object]],
        rng: Callable[[], float],
        on_retry: Callable[[Failure, float], None] = lambda failure, delay: None,
        min_attempt_s: float = 0.0,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._rng = rng
        self._on_retry = on_retry
        self._min_attempt_s = min_attempt_s

    async def call(
        self, attempt: Callable[[], Awaitable[T]], deadline: Deadline, *, max_attempts: int | None = None
    ) -> T:
        """Run ``attempt`` until it succeeds. A non-retryable error propagates unchanged; giving
        up on a retryable one raises ``GaveUp`` chained to the last error."""
        number = 0
        while True:
            number += 1
            try:
                return await attempt()
            except GaveUp:
                raise
            except Exception as exc:
                failure = classify(exc)
                step = next_step(
                    self.config,
                    number,
                    failure,
                    deadline.remaining(),
                    self._rng(),
                    max_attempts=max_attempts,
                    min_attempt_s=self._min_attempt_s,
                )
                if not step.retry:
                    if step.reason == "not_retryable":
                        raise
                    raise GaveUp(step.reason, failure, _finite(failure.retry_after)) from exc
                self._on_retry(failure, step.delay)
                await self._sleep(step.delay)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
