"""The latency model: how long a real provider would take, seeded so runs repeat.

Embeddings take ``base + per_input * inputs + per_token * tokens``; chat takes a time to the
first token, then ``per_token`` for each output token, and a stream really spaces its chunks
that way. Every request draws one lognormal factor (mean 1, ``tail_sigma``) that scales all of
its times, which gives the heavy tail. Each key has ``concurrency`` requests in service at
once; more queue for a slot, so a flood makes every request slower, as it does upstream.

With ``enabled: false`` there is no delay and no queue, except that a ``slow`` fault still
slows requests down by its factor times the nominal model times.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

from ragchaos.provider.config import LatencyConfig

__all__ = ["LatencyModel"]


class LatencyModel:
    def __init__(self, config: LatencyConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random(config.seed)
        self._slots: dict[str, asyncio.Semaphore] = {}

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    def scale(self, slow_factor: float = 1.0) -> float:
        """The factor for this request's nominal times; 0 means "answer at once"."""
        if not self.config.enabled:
            return slow_factor if slow_factor != 1.0 else 0.0
        sigma = self.config.tail_sigma
        tail = self.rng.lognormvariate(-sigma * sigma / 2.0, sigma) if sigma > 0 else 1.0
        return tail * slow_factor

    def embeddings_s(self, inputs: int, tokens: int) -> float:
        c = self.config
        return (c.embeddings_base_ms + c.embeddings_per_input_ms * inputs + c.embeddings_per_token_ms * tokens) / 1000.0

    def ttft_s(self) -> float:
        return self.config.chat_ttft_ms / 1000.0

    def per_token_s(self, tokens: int) -> float:
        return self.config.chat_per_token_ms * tokens / 1000.0

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Hold one of the key's service slots (free when the model is off)."""
        if not self.config.enabled:
            yield
            return
        sem = self._slots.get(key)
        if sem is None:
            sem = self._slots[key] = asyncio.Semaphore(self.config.concurrency)
        async with sem:
            yield

