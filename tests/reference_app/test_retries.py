"""Retries: what is retried, how long between attempts, and that the deadline bounds them.

Real openai exceptions are built from httpx2 responses (openai 3.x uses httpx2), exactly as the SDK
raises them. Time is a ``FakeClock``: ``sleep`` advances it, so nothing waits on the real clock.
The helpers here are shared by the other resilience test modules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import httpx2
import openai
import pytest
from chromadb.errors import InternalError as ChromaInternalError
from pydantic import ValidationError

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.resilience import DependencyUnavailable, ResilienceSettings, build_guards
from ragchaos.reference_app.retries import (
    Failure,
    GaveUp,
    Retrier,
    RetryConfig,
    backoff_delay,
    classify,
    next_step,
    retry_after_hint,
)

URL = "http://127.0.0.1:9/v1/chat/completions"


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` (or ``advance``) is called."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still yield, so concurrent tasks interleave as they would


def _request() -> httpx2.Request:
    return httpx2.Request("POST", URL)


def status_error(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
    type_: str | None = None,
) -> openai.APIStatusError:
    """The exception the SDK raises for ``status`` (RateLimitError, InternalServerError, ...)."""
    body = {"message": f"status {status}", "type": type_, "param": None, "code": code}
    response = httpx2.Response(status, headers=dict(headers or {}), json={"error": body}, request=_request())
    cls = {
        400: openai.BadRequestError,
        401: openai.AuthenticationError,
        404: openai.NotFoundError,
        429: openai.RateLimitError,
    }.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return cls(f"Error code: {status} - {body['message']}", response=response, body=body)


def rate_limited(headers: Mapping[str, str] | None = None) -> openai.RateLimitError:
    err = status_error(429, headers, code="rate_limit_exceeded", type_="requests")
    assert isinstance(err, openai.RateLimitError)
    return err


def insufficient_quota() -> openai.RateLimitError:
    err = status_error(429, {"retry-after": "1"}, code="insufficient_quota", type_="insufficient_quota")
    assert isinstance(err, openai.RateLimitError)
    return err


def timeout_error() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=_request())


def connection_error() -> openai.APIConnectionError:
    return openai.APIConnectionError(request=_request())


class Script:
    """An ``op(timeout)`` that raises or returns the scripted outcomes in order."""

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = list(outcomes)
        self.timeouts: list[float] = []

    async def __call__(self, timeout: float) -> object:
        self.timeouts.append(timeout)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @property
    def calls(self) -> int:
        return len(self.timeouts)


def sample(metrics: AppMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# --- classification -----------------------------------------------------------------------------


def test_rate_limit_is_retryable_but_not_unhealthy() -> None:
    failure = classify(rate_limited({"retry-after": "2"}))
    assert failure == Failure("rate_limited", retryable=True, unhealthy=False, retry_after=2.0)


@pytest.mark.parametrize(
    "code,type_",
    [
        ("insufficient_quota", "insufficient_quota"),
        (None, "insufficient_quota"),
        ("credit_balance_exhausted", "insufficient_quota"),
    ],
)
def test_insufficient_quota_is_never_retryable(code: str | None, type_: str) -> None:
    failure = classify(status_error(429, {"retry-after": "1"}, code=code, type_=type_))
    assert failure.reason == "insufficient_quota"
    assert not failure.retryable and not failure.unhealthy


@pytest.mark.parametrize(
    "exc,reason,retryable,unhealthy",
    [
        (status_error(500), "server_error", True, True),
        (status_error(503, {"retry-after": "1"}), "server_error", True, True),
        (status_error(400), "client_error", False, False),
        (status_error(401), "client_error", False, False),
        (status_error(404), "client_error", False, False),
        (status_error(503, {"x-should-retry": "false"}), "server_error", False, True),
        (timeout_error(), "timeout", True, True),
        (connection_error(), "connection", True, True),
        (httpx.ConnectError("refused"), "connection", True, True),
        (httpx.ReadTimeout("slow"), "timeout", True, True),
        (httpx2.RemoteProtocolError("reset"), "connection", True, True),
        (TimeoutError(), "timeout", True, True),
        (ConnectionResetError(), "connection", True, True),
        (ChromaInternalError("boom"), "server_error", True, True),
        (ValueError("a bug"), "error", False, False),
        (DependencyUnavailable("vectordb", "breaker_open", 1.0), "unavailable", False, False),
    ],
)
def test_classify(exc: BaseException, reason: str, retryable: bool, unhealthy: bool) -> None:
    failure = classify(exc)
    assert (failure.reason, failure.retryable, failure.unhealthy) == (reason, retryable, unhealthy)


def test_a_wrapper_raised_while_handling_a_transport_error_is_that_error() -> None:
    """Chroma's client raises ValueError("Could not connect ...") inside ``except ConnectError``."""
    try:
        try:
            raise httpx.ConnectError("refused")
        except httpx.ConnectError:
            raise ValueError("Could not connect to a Chroma server. Are you sure it is running?") from None
    except ValueError as exc:
        suppressed = exc
    assert classify(suppressed).reason == "error"  # "from None": the chain was cut on purpose
    try:
        try:
            raise httpx.ConnectError("refused")
        except httpx.ConnectError:
            raise ValueError("Could not connect to a Chroma server. Are you sure it is running?")  # noqa: B904
    except ValueError as exc:
        wrapped = exc
    assert classify(wrapped) == Failure("connection", True, True)


def test_retry_after_ms_is_preferred_over_retry_after() -> None:
    assert retry_after_hint({"retry-after-ms": "300", "retry-after": "5"}) == pytest.approx(0.3)
    assert retry_after_hint({"retry-after": "5"}) == 5.0
    assert retry_after_hint({"retry-after": "1.5"}) == 1.5
    assert retry_after_hint({"retry-after-ms": "junk", "retry-after": "2"}) == 2.0
    assert retry_after_hint({"retry-after": "-3"}) is None
    assert retry_after_hint({"retry-after": "soon"}) is None
    assert retry_after_hint({}) is None


def test_retry_after_http_date() -> None:
    now = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
    assert retry_after_hint({"retry-after": "Thu, 01 Jan 2026 00:00:07 GMT"}, now=lambda: now) == 7.0
    assert retry_after_hint({"retry-after": "Wed, 31 Dec 2025 23:59:00 GMT"}, now=lambda: now) == 0.0


# --- the pure decision --------------------------------------------------------------------------

CONFIG = RetryConfig(
    max_attempts=5, initial_backoff_s=0.2, max_backoff_s=2.0, max_retry_after_s=30, hint_jitter=0.1
)
SERVER = Failure("server_error", True, True)


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    for n, base in enumerate([0.2, 0.4, 0.8, 1.6, 2.0, 2.0]):
        assert backoff_delay(CONFIG, n, 0.0) == pytest.approx(base / 2)
        assert backoff_delay(CONFIG, n, 0.999999) == pytest.approx(base, rel=1e-5)
    assert backoff_delay(CONFIG, 10_000, 0.5) == pytest.approx(1.5)  # no overflow, capped


def test_hint_is_honoured_with_jitter_never_below_it() -> None:
    hinted = Failure("rate_limited", True, False, retry_after=1.0)
    assert next_step(CONFIG, 1, hinted, 100, 0.0).delay == pytest.approx(1.0)
    assert next_step(CONFIG, 1, hinted, 100, 0.5).delay == pytest.approx(1.05)
    assert next_step(CONFIG, 1, Failure("rate_limited", True, False, retry_after=31), 100, 0.5).reason == (
        "retry_after_too_long"
    )


def test_next_step_gives_up_for_the_right_reason() -> None:
    assert next_step(CONFIG, 1, Failure("client_error", False, False), 100, 0.5).reason == "not_retryable"
    assert next_step(CONFIG, 5, SERVER, 100, 0.5).reason == "retries_exhausted"
    assert next_step(CONFIG, 2, SERVER, 100, 0.5, max_attempts=2).reason == "retries_exhausted"
    # backoff for retry 1 is 0.15..0.2 s: fits in 0.3 s, not in 0.1 s, nor with a 0.2 s minimum attempt
    assert next_step(CONFIG, 1, SERVER, 0.3, 0.5).retry
    assert next_step(CONFIG, 1, SERVER, 0.1, 0.5).reason == "deadline"
    assert next_step(CONFIG, 1, SERVER, 0.3, 0.5, min_attempt_s=0.2).reason == "deadline"
    hinted = Failure("rate_limited", True, False, retry_after=5.0)
    assert next_step(CONFIG, 1, hinted, 4.0, 0.0).reason == "deadline"


# --- the driver ---------------------------------------------------------------------------------


def _retrier(clock: FakeClock, config: RetryConfig = CONFIG, seen: list | None = None) -> Retrier:
    def on_retry(failure: Failure, delay: float) -> None:
        if seen is not None:
            seen.append((failure.reason, delay))

    return Retrier(config, sleep=clock.sleep, rng=lambda: 0.5, on_retry=on_retry)


def test_gaps_follow_retry_after_ms_then_success() -> None:
    clock = FakeClock()
    seen: list = []
    headers = {"retry-after-ms": "300", "retry-after": "5"}
    script = Script(rate_limited(headers), rate_limited(headers), "ok")

    async def attempt() -> object:
        return await script(1.0)

    result = asyncio.run(_retrier(clock, seen=seen).call(attempt, Deadline.after(10, clock)))
    assert result == "ok"
    assert script.calls == 3
    assert clock.sleeps == pytest.approx([0.315, 0.315])  # 0.3 s plus 10 % x draw 0.5; not 5 s
    assert [reason for reason, _ in seen] == ["rate_limited", "rate_limited"]


def test_insufficient_quota_is_raised_unchanged_after_one_attempt() -> None:
    clock = FakeClock()
    err = insufficient_quota()
    script = Script(err)

    async def attempt() -> object:
        return await script(1.0)

    with pytest.raises(openai.RateLimitError) as raised:
        asyncio.run(_retrier(clock).call(attempt, Deadline.after(10, clock)))
    assert raised.value is err
    assert script.calls == 1 and clock.sleeps == []


def test_bad_request_is_raised_unchanged_after_one_attempt() -> None:
    clock = FakeClock()
    err = status_error(400)
    script = Script(err)

    async def attempt() -> object:
        return await script(1.0)

    with pytest.raises(openai.BadRequestError) as raised:
        asyncio.run(_retrier(clock).call(attempt, Deadline.after(10, clock)))
    assert raised.value is err and script.calls == 1


def test_exhausted_retries_give_up_with_the_last_error_as_cause() -> None:
    clock = FakeClock()
    script = Script(status_error(503))

    async def attempt() -> object:
        return await script(1.0)

    with pytest.raises(GaveUp) as raised:
        asyncio.run(_retrier(clock).call(attempt, Deadline.after(100, clock)))
    assert raised.value.reason == "retries_exhausted"
    assert isinstance(raised.value.__cause__, openai.InternalServerError)
    assert script.calls == CONFIG.max_attempts
    assert clock.sleeps == pytest.approx([0.15, 0.3, 0.6, 1.2])


def test_backoff_never_sleeps_past_the_deadline() -> None:
    clock = FakeClock()
    deadline = Deadline.after(1.0, clock)
    script = Script(connection_error())

    async def attempt() -> object:
        return await script(1.0)

    with pytest.raises(GaveUp) as raised:
        asyncio.run(
            _retrier(clock, RetryConfig(max_attempts=50, initial_backoff_s=0.2)).call(attempt, deadline)
        )
    assert raised.value.reason == "deadline"
    assert sum(clock.sleeps) <= 1.0
    assert not deadline.expired()  # gave up while budget was left, instead of sleeping into it
    assert script.calls == len(clock.sleeps) + 1


def test_retry_after_longer_than_the_budget_gives_up_at_once() -> None:
    clock = FakeClock()
    script = Script(rate_limited({"retry-after": "20"}))

    async def attempt() -> object:
        return await script(1.0)

    with pytest.raises(GaveUp) as raised:
        asyncio.run(_retrier(clock).call(attempt, Deadline.after(5, clock)))
    assert raised.value.reason == "deadline"
    assert raised.value.retry_after == 20.0  # passed on so the app's 503 can say when to return
    assert clock.sleeps == [] and script.calls == 1


# --- through the guard: metrics, switch ---------------------------------------------------------


def _guards(clock: FakeClock, disabled: set[str] = frozenset(), **settings: object):
    metrics = AppMetrics("reference")
    guards = build_guards(
        ResilienceSettings(**settings),
        metrics,
        set(disabled),
        clock=clock,
        sleep=clock.sleep,
        rng=lambda: 0.5,
    )
    return guards, metrics


def test_guard_counts_retries_by_reason_and_gives_up_with_dependency_unavailable() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock)
    script = Script(
        rate_limited({"retry-after-ms": "100"}), status_error(502), timeout_error(), connection_error()
    )
    with pytest.raises(DependencyUnavailable) as raised:
        asyncio.run(guards["chat"].call(script, deadline=Deadline.after(60, clock)))
    assert raised.value.dependency == "chat" and raised.value.reason == "retries_exhausted"
    assert isinstance(raised.value.__cause__, openai.APIConnectionError)
    for reason in ("rate_limited", "server_error", "timeout"):
        assert sample(metrics, "ragchaos_retries_total", dependency="chat", reason=reason) == 1.0
    assert script.calls == 4


def test_guard_passes_insufficient_quota_through_uncounted() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock)
    script = Script(insufficient_quota())
    with pytest.raises(openai.RateLimitError):
        asyncio.run(guards["embeddings"].call(script, deadline=Deadline.after(60, clock)))
    assert script.calls == 1
    assert sample(metrics, "ragchaos_retries_total", dependency="embeddings", reason="rate_limited") == 0.0


def test_retries_switched_off_is_a_single_attempt_with_the_raw_error() -> None:
    clock = FakeClock()
    guards, metrics = _guards(clock, {"retries"})
    script = Script(status_error(503), "ok")
    with pytest.raises(openai.InternalServerError):
        asyncio.run(guards["chat"].call(script, deadline=Deadline.after(60, clock)))
    assert script.calls == 1 and clock.sleeps == []


def test_retry_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_RETRY__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("RAGCHAOS_RETRY__MAX_BACKOFF_S", "1.5")
    settings = ResilienceSettings()
    assert settings.retry.max_attempts == 2 and settings.retry.max_backoff_s == 1.5
    monkeypatch.setenv("RAGCHAOS_RETRY__MAX_ATTEMPTS", "0")
    with pytest.raises(ValidationError, match="max_attempts"):
        ResilienceSettings()


def test_every_resilience_setting_is_documented_with_its_real_default() -> None:
    """The env table in ResilienceSettings' docstring lists every field with its actual default."""
    documented: dict[str, str] = {}
    for line in (ResilienceSettings.__doc__ or "").splitlines():
        words = line.split()
        if words and words[0].startswith("RAGCHAOS_"):
            documented[words[0]] = words[1] if len(words) > 1 else ""
    settings = ResilienceSettings()
    expected = {}
    for part in ResilienceSettings.model_fields:
        for field, value in getattr(settings, part).model_dump().items():
            expected[f"RAGCHAOS_{part.upper()}__{field.upper()}"] = value
    assert set(documented) == set(expected)
    for name, value in expected.items():
        if isinstance(value, int | float):
            assert float(documented[name]) == value, name
        else:
            assert documented[name] == "{}" and value == {}, name
