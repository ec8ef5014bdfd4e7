"""The latency model, driven in-process through ASGI with an injected sleep (no real waiting)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest

from ragchaos.provider.app import create_app
from ragchaos.provider.config import LatencyConfig, ProviderConfig
from ragchaos.provider.faults import FaultSpec
from ragchaos.provider.latency import LatencyModel

NO_TAIL = {"enabled": True, "tail_sigma": 0.0, "embeddings_base_ms": 40, "embeddings_per_input_ms": 1,
           "embeddings_per_token_ms": 0.5, "chat_ttft_ms": 300, "chat_per_token_ms": 10}


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)


async def call(app: Any, path: str, body: dict[str, Any], key: str = "test") -> tuple[int, list[bytes]]:
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "query_string": b"",
             "headers": [(b"authorization", f"Bearer {key}".encode())]}
    await app(scope, receive, send)
    return sent[0]["status"], [m.get("body", b"") for m in sent[1:]]


def make(latency: dict[str, Any]) -> tuple[Any, Sleeps]:
    sleeps = Sleeps()
    return create_app(ProviderConfig(latency=LatencyConfig(**latency)), sleep=sleeps), sleeps


def test_embeddings_take_base_plus_per_input_plus_per_token() -> None:
    app, sleeps = make(NO_TAIL)
    status, _ = asyncio.run(call(app, "/v1/embeddings", {"model": "m", "input": ["abcdefgh", "abcd"]}))
    assert status == 200
    assert sleeps.calls == [pytest.approx((40 + 2 * 1 + 3 * 0.5) / 1000)]  # 2 inputs, 2 + 1 tokens


def test_stream_spaces_its_chunks_ttft_then_per_token() -> None:
    app, sleeps = make(NO_TAIL)
    body = {"model": "m", "stream": True,
            "messages": [{"role": "user", "content": "[d#1] Owls hunt mice at night.\n\nQuestion: what do owls hunt?"}]}
    status, events = asyncio.run(call(app, "/v1/chat/completions", body))
    assert status == 200
    words = ["Owls", " hunt", " mice", " at", " night.", " [d#1]"]
    assert sleeps.calls[0] == pytest.approx(0.3)
    assert sleeps.calls[1:] == [pytest.approx(((len(w) + 3) // 4) * 0.010) for w in words]
    assert events[-2] == b"data: [DONE]\n\n"


def test_off_means_no_sleep_but_slow_still_slows() -> None:
    app, sleeps = make({"enabled": False})
    asyncio.run(call(app, "/v1/embeddings", {"model": "m", "input": "x"}))
    assert sleeps.calls == []
    app.faults.add(FaultSpec(kind="slow", factor=3))
    asyncio.run(call(app, "/v1/embeddings", {"model": "m", "input": "x"}))
    assert sleeps.calls == [pytest.approx(3 * (40 + 0.5 + 0.005) / 1000)]


def test_tail_is_lognormal_with_mean_one_and_seeded() -> None:
    a = LatencyModel(LatencyConfig(seed=3, tail_sigma=0.5))
    b = LatencyModel(LatencyConfig(seed=3, tail_sigma=0.5), random.Random(3))
    draws = [a.scale() for _ in range(20000)]
    assert draws[:5] == [b.scale() for _ in range(5)]
    assert sum(draws) / len(draws) == pytest.approx(1.0, rel=0.03)
    assert max(draws) > 3.0  # a real tail


def test_requests_beyond_the_key_concurrency_queue() -> None:
    async def scenario() -> tuple[int, int]:
        app, sleeps = make({**NO_TAIL, "concurrency": 2})
        sleeps.gate = asyncio.Event()
        tasks = [asyncio.create_task(call(app, "/v1/embeddings", {"model": "m", "input": "x"})) for _ in range(5)]
        for _ in range(20):
            await asyncio.sleep(0)
        in_service = len(sleeps.calls)  # only 2 got a slot; 3 wait
        other_key = asyncio.create_task(call(app, "/v1/embeddings", {"model": "m", "input": "x"}, key="naive"))
        for _ in range(20):
            await asyncio.sleep(0)
        with_other_key = len(sleeps.calls)
        sleeps.gate.set()
        await asyncio.gather(*tasks, other_key)
        return in_service, with_other_key

    in_service, with_other_key = asyncio.run(scenario())
    assert in_service == 2 and with_other_key == 3  # another key has its own slots
