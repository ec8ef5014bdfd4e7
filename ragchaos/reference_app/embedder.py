"""The embeddings path: embedding cache -> micro-batcher -> guard -> pooled client.

``embed(texts, deadline)`` returns one vector per text. Cached texts never reach the batcher;
the rest are batched with other requests' texts (ragchaos/reference_app/batching.py) and each batch is
one guarded provider call (retries, breaker, bulkhead, pacing by its token estimate). Every call
counts its inputs in ``ragchaos_embed_batch_size`` and its tokens in
``ragchaos_provider_tokens_total{kind="embedding"}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from cachetools import TTLCache

from ragchaos.kit.prompt import EMBED_MODEL, estimate_tokens
from ragchaos.measure.accounting import count_embeddings
from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.batching import BatchConfig, MicroBatcher, Vector
from ragchaos.reference_app.caches import LayerCache
from ragchaos.reference_app.clients import Clients
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.ingest_errors import classify_ingest
from ragchaos.reference_app.resilience import DependencyGuard

__all__ = ["Embedder"]


class Embedder:
    def __init__(
        self,
        clients: Clients,
        guard: DependencyGuard,
        metrics: AppMetrics,
        cache: LayerCache[Vector],
        *,
        batch: BatchConfig,
        batching: bool,
    ) -> None:
        self.clients = clients
        self.guard = guard
        self.metrics = metrics
        self.cache = cache
        # a text the provider refuses (over the input limit) must not fail the texts sharing its call
        # texts the provider refused for themselves (a 400), for a short while: a batch split to
        # find its poison asks again, and must not send the poison (10k tokens of budget) again
        self.refused: TTLCache[str, BaseException] = TTLCache(maxsize=1024, ttl=60.0)
        self.batcher = MicroBatcher(self._call, batch, enabled=batching,
                                    refused=lambda exc: classify_ingest(exc) == "permanent")

    async def embed(self, texts: Sequence[str], deadline: Deadline) -> list[Vector]:
        for text in texts:
            refusal = self.refused.get(text)
            if refusal is not None:  # refused a moment ago: the same bytes get the same answer
                raise refusal
        out: list[Vector | None] = [None] * len(texts)
        missing: list[int] = []
        await self.cache.prefetch([(EMBED_MODEL, t) for t in texts])  # shared cache (REDIS_URL)
        for i, text in enumerate(texts):
            hit = self.cache.get((EMBED_MODEL, text))
            if hit is not None:
                out[i] = hit
            else:
                missing.append(i)
        if missing:
            vectors = await self.batcher.embed([texts[i] for i in missing], deadline)
            for i, vec in zip(missing, vectors, strict=True):
                out[i] = vec
                self.cache.put((EMBED_MODEL, texts[i]), vec)
        return [v for v in out if v is not None]

    async def _call(self, batch: list[str], deadline: Deadline) -> list[Vector]:
        """One provider call for ``batch`` (the batcher's unit of work), guarded."""
        tokens = sum(estimate_tokens(t) for t in batch)

        async def attempt(timeout: float) -> list[Vector]:
            async with self.clients.openai() as client:
                raw = await client.embeddings.with_raw_response.create(
                    model=EMBED_MODEL, input=batch, timeout=timeout
                )
            self.guard.observe(raw.headers)
            resp = raw.parse()
            count_embeddings(self.metrics, len(batch), resp.usage)
            # float32 arrays: what the provider sent (base64 float32), at 1.5 KB a vector instead of
            # 12 KB as a list of Python floats, which is what lets the embedding cache be large
            return [np.asarray(d.embedding, dtype=np.float32) for d in sorted(resp.data, key=lambda d: d.index)]

        try:
            vectors = await self.guard.call(attempt, deadline=deadline, tokens=tokens)
        except Exception as exc:
            if len(batch) == 1 and classify_ingest(exc) == "permanent":
                self.refused[batch[0]] = exc
            raise
        for text, vec in zip(batch, vectors, strict=False):
            # cached now, not when the caller's whole request returns: when a caller's other text
            # is refused, a retry of its good texts is a cache hit, not another provider call
            self.cache.put((EMBED_MODEL, text), vec)
        return vectors
