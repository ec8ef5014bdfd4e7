"""Fleet-scope circuit breakers (``RAGCHAOS_BREAKER_SCOPE=fleet``) against the real Redis.

Two ``CircuitBreaker`` objects on two Redis connections stand for two replicas' breakers of
one dependency. Time is the callers' wall clock passed to the Lua scripts, so the tests drive
it; nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import openai
import pytest

from ragchaos.measure.metrics import BREAKER_STATE_VALUE, AppMetrics
from ragchaos.reference_app.breaker import BreakerConfig, BreakerOpen, CircuitBreaker, Transition
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.resilience import DependencyUnavailable, ResilienceSettings, build_guards
from ragchaos.reference_app.shared.breaker import RedisBreakerState, redis_breaker_stores
from ragchaos.reference_app.shared.namespace import Namespace, connect
from tests.reference_app.test_retries import FakeClock, Script, connection_error, sample

pytestmark = [pytest.mark.redis]

CONFIG = BreakerConfig(failure_threshold=3, reset_timeout_s=2.0)


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _pair(a: Namespace, b: Namespace, clock: Clock, **kw: float) -> tuple[CircuitBreaker, CircuitBreaker]:
    return tuple(  # type: ignore[return-value]  # a 2-tuple by construction
        CircuitBreaker("chat", CONFIG, clock=clock, wall=clock, shared=RedisBreakerState(ns, "chat", **kw))
        for ns in (a, b)
    )


def _run(url: str, prefix: str, body: Callable[[Namespace, Namespace], Awaitable[None]]) -> None:
    async def main() -> None:
        a, b = connect(url, prefix), connect(url, prefix)
        try:
            await body(a, b)
        finally:
            keys = [k async for k in a.client.scan_iter(match=prefix + "*")]
            if keys:
                await a.client.delete(*keys)
            await a.client.aclose()
            await b.client.aclose()

    asyncio.run(main())


async def _fail(breaker: CircuitBreaker, n: int) -> None:
    for _ in range(n):
        await breaker.settle(await breaker.acquire(), "failure")


def test_failures_on_one_replica_open_the_breaker_on_both(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        clock = Clock()
        ra, rb = _pair(a, b, clock)
        seen_b: list[Transition] = []
        rb.add_listener(seen_b.append)
        await _fail(ra, 2)
        await _fail(rb, 1)  # consecutive failures are counted fleet-wide: 3 opens it
        assert ra.state == "closed" and rb.state == "open"
        with pytest.raises(BreakerOpen) as refused:
            await ra.acquire()
        assert ra.state == "open" and refused.value.retry_after == pytest.approx(2.0)
        assert [(t.from_state, t.to_state) for t in seen_b] == [("closed", "open")]
        # replica A did not move it but tells its listeners (its metrics gauge) what it saw
        assert [(t.from_state, t.to_state, t.reason) for t in ra.transitions] == [
            ("closed", "open", "moved by another replica")]
        assert ra.snapshot()["scope"] == "fleet"

    _run(redis_url, redis_prefix, body)


def test_a_success_anywhere_resets_the_fleets_failure_count(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        ra, rb = _pair(a, b, Clock())
        await _fail(ra, 2)
        await rb.settle(await rb.acquire(), "success")  # admitted with failures counted: not quiet
        await _fail(ra, 2)
        assert ra.state == "closed" and ra.consecutive_failures == 2

    _run(redis_url, redis_prefix, body)


def test_half_open_lets_exactly_one_probe_through_the_whole_fleet(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        clock = Clock()
        ra, rb = _pair(a, b, clock)
        await _fail(ra, 3)
        clock.t += CONFIG.reset_timeout_s + 0.1
        outcomes = await asyncio.gather(*(r.acquire() for r in (ra, rb) for _ in range(10)),
                                        return_exceptions=True)
        probes = [o for o in outcomes if not isinstance(o, BreakerOpen)]
        assert len(probes) == 1 and not isinstance(probes[0], BaseException) and probes[0].probe
        assert all(isinstance(o, BreakerOpen) and o.state == "half_open" for o in outcomes if o is not probes[0])
        prober = ra if outcomes.index(probes[0]) < 10 else rb
        await prober.settle(probes[0], "success")
        other = rb if prober is ra else ra
        ticket = await other.acquire()
        assert not ticket.probe and other.state == "closed" and prober.state == "closed"

    _run(redis_url, redis_prefix, body)


def test_a_probe_lost_with_its_replica_frees_the_slot_after_the_lease(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        clock = Clock()
        ra, rb = _pair(a, b, clock, probe_lease_s=5.0)
        await _fail(ra, 3)
        clock.t += CONFIG.reset_timeout_s
        assert (await ra.acquire()).probe  # ...and replica A dies holding it
        clock.t += 4.9
        with pytest.raises(BreakerOpen):
            await rb.acquire()
        clock.t += 0.2
        probe = await rb.acquire()
        assert probe.probe
        await rb.settle(probe, "failure")
        assert rb.state == "open"

    _run(redis_url, redis_prefix, body)


def test_an_outcome_from_an_earlier_generation_is_ignored_fleet_wide(redis_url: str, redis_prefix: str) -> None:
    async def body(a: Namespace, b: Namespace) -> None:
        clock = Clock()
        ra, rb = _pair(a, b, clock)
        stale = await ra.acquire()  # in flight on A while B's calls open the breaker
        await _fail(rb, 3)
        clock.t += CONFIG.reset_timeout_s
        probe = await rb.acquire()
        await ra.settle(stale, "failure")  # would count (or re-open) if generations were not shared
        assert ra.state == "half_open"
        await rb.settle(probe, "success")
        assert rb.state == "closed"

    _run(redis_url, redis_prefix, body)


def _unanswered_port() -> tuple[socket.socket, int]:
    """A loopback port that accepts TCP connections (the kernel's backlog) and never answers:
    a stalled Redis."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return sock, sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on exit: nothing listens there


@pytest.mark.parametrize("redis_down", ["refused", "stalled"])
def test_with_redis_down_the_breaker_decides_locally_and_never_blocks(redis_down: str) -> None:
    async def body() -> None:
        listener = None
        if redis_down == "stalled":
            listener, port = _unanswered_port()
        else:
            port = _closed_port()
        ns = connect(f"redis://127.0.0.1:{port}/0", "ragchaos-test:down:")
        clock = Clock()
        breaker = CircuitBreaker("chat", CONFIG, clock=clock, wall=clock, shared=RedisBreakerState(ns, "chat"),
                                 shared_timeout_s=0.2, fallback_s=1.0)
        try:
            ticket = await breaker.acquire()
            assert not ticket.shared and breaker.fallbacks == 1  # a local ticket: the call goes
            await breaker.settle(ticket, "failure")
            await _fail(breaker, 2)  # within the fallback window: local, no Redis attempt
            assert breaker.fallbacks == 1 and breaker.state == "open"
            with pytest.raises(BreakerOpen):
                await breaker.acquire()
            clock.t += 1.0  # the window is over: Redis is asked again, fails again, local decides
            with pytest.raises(BreakerOpen):
                await breaker.acquire()
            assert breaker.fallbacks == 2
        finally:
            await ns.client.aclose()
            if listener is not None:
                listener.close()

    asyncio.run(body())


def test_through_the_guards_one_replicas_failing_calls_make_the_other_shed(redis_url: str, redis_prefix: str) -> None:
    """The app's path: build_guards with the fleet stores (what RedisBackend hands it in fleet
    scope); replica A's failed calls, replica B's call refused without being sent, and B's
    breaker gauge showing open."""
    async def body(a: Namespace, b: Namespace) -> None:
        clock = FakeClock()
        settings = ResilienceSettings(breaker=CONFIG)
        replicas = []
        for i, ns in enumerate((a, b)):
            metrics = AppMetrics(f"reference-{i}")
            guards = build_guards(settings, metrics, {"retries"}, clock=clock, sleep=clock.sleep,
                                  breaker_stores=redis_breaker_stores(ns))
            replicas.append((guards["vectordb"], metrics))
        (ga, _), (gb, mb) = replicas
        for _ in range(CONFIG.failure_threshold):
            with pytest.raises(openai.APIConnectionError):  # retries off: the error itself
                await ga.call(Script(connection_error()), deadline=Deadline.after(30, clock))
        assert ga.state == "open"
        never = Script("never sent")
        with pytest.raises(DependencyUnavailable) as refused:
            await gb.call(never, deadline=Deadline.after(30, clock))
        assert refused.value.reason == "breaker_open" and never.timeouts == []
        assert sample(mb, "ragchaos_breaker_state", dependency="vectordb") == BREAKER_STATE_VALUE["open"]

    _run(redis_url, redis_prefix, body)
