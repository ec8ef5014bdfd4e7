"""Concurrent identical calls share one execution; errors are shared, not cached."""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.reference_app.singleflight import SingleFlight

pytestmark = pytest.mark.anyio


async def test_concurrent_callers_share_one_call() -> None:
    sf: SingleFlight[int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def work() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    tasks = [asyncio.ensure_future(sf.do("k", work)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*tasks) == [42] * 10
    assert calls == 1 and sf.shared == 9 and sf.in_flight() == 0


async def test_errors_are_shared_then_forgotten() -> None:
    sf: SingleFlight[int] = SingleFlight()
    attempts = 0

    async def boom() -> int:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        raise RuntimeError("upstream")

    results = await asyncio.gather(sf.do("k", boom), sf.do("k", boom), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and attempts == 1
    with pytest.raises(RuntimeError):
        await sf.do("k", boom)
    assert attempts == 2  # the failure was not remembered


async def test_a_leaving_caller_does_not_cancel_the_others() -> None:
    sf: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def work() -> str:
        await release.wait()
        return "ok"

    first = asyncio.ensure_future(sf.do("k", work))
    second = asyncio.ensure_future(sf.do("k", work))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == "ok"


async def test_different_keys_do_not_share() -> None:
    sf: SingleFlight[str] = SingleFlight()

    async def value(v: str) -> str:
        await asyncio.sleep(0)
        return v

    assert await asyncio.gather(sf.do("a", lambda: value("a")), sf.do("b", lambda: value("b"))) == ["a", "b"]
