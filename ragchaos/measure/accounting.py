"""Counting what each provider call cost, the same way in both apps."""

from __future__ import annotations

from typing import Any

from ragchaos.measure.metrics import AppMetrics

__all__ = ["count_chat", "count_embeddings"]


def count_embeddings(metrics: AppMetrics, inputs: int, usage: Any) -> None:
    metrics.provider_calls.labels(endpoint="embeddings").inc()
    metrics.embed_batch_size.observe(inputs)
    if usage is not None:
        metrics.provider_tokens.labels(kind="embedding").inc(getattr(usage, "prompt_tokens", 0) or 0)


def count_chat(metrics: AppMetrics, usage: Any) -> None:
    metrics.provider_calls.labels(endpoint="chat").inc()
    if usage is not None:
        metrics.provider_tokens.labels(kind="prompt").inc(getattr(usage, "prompt_tokens", 0) or 0)
        metrics.provider_tokens.labels(kind="completion").inc(getattr(usage, "completion_tokens", 0) or 0)
