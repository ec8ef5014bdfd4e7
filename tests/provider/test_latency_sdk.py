"""The latency model in a real process: a stream really spaces its chunks (lower bounds only)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.provider.conftest import Provider, start_provider

LATENCY = {"enabled": True, "tail_sigma": 0.0, "chat_ttft_ms": 200, "chat_per_token_ms": 40,
           "embeddings_base_ms": 100, "embeddings_per_input_ms": 0, "embeddings_per_token_ms": 0}
PROMPT = [{"role": "user", "content": "[d#1] Owls hunt mice at night.\n\nQuestion: what do owls hunt?"}]


@pytest.fixture(scope="module")
def slow_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    server = start_provider(tmp_path_factory.mktemp("latency"), {"latency": LATENCY}, name="provider-latency")
    try:
        yield server
    finally:
        server.process.stop()


@pytest.mark.slow
def test_stream_chunks_are_spaced_by_ttft_and_per_token_time(slow_provider: Provider) -> None:
    started = time.monotonic()
    arrivals = []
    for chunk in slow_provider.client().chat.completions.create(model="gpt-4o-mini", messages=PROMPT, stream=True):
        arrivals.append((time.monotonic() - started, chunk))
    first_content = next(t for t, c in arrivals if c.choices and c.choices[0].delta.content)
    assert arrivals[0][0] >= 0.19  # time to first token
    # "Owls hunt mice at night. [d#1]" is 6 words of 1-2 tokens: at least 7 tokens at 40 ms after the TTFT
    assert arrivals[-1][0] >= 0.2 + 7 * 0.04 - 0.01
    assert arrivals[-1][0] - first_content >= 5 * 0.04 - 0.01  # spread over the stream, not sent at once


@pytest.mark.slow
def test_embeddings_take_the_modelled_time(slow_provider: Provider) -> None:
    started = time.monotonic()
    slow_provider.client().embeddings.create(model="m", input="x")
    assert time.monotonic() - started >= 0.099
