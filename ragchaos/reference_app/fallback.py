"""What to answer when a dependency is unavailable (a guard raised DependencyUnavailable).

In order: a cached answer (exact or semantic, served by the normal cache path before any
dependency is called; on failure, the last good answer for the same question from before the
corpus changed, marked ``degraded``), else a retrieval-only answer (the passages without the
model's summary, when only chat failed), else a fast 503 with Retry-After. Never a hang: every
path here is bounded by the guards. Fallback answers are never cached.
``ragchaos_fallback_total{kind}`` counts each: cache, retrieval_only, unavailable.
"""

from __future__ import annotations

from ragchaos.kit.prompt import Passage
from ragchaos.kit.schemas import QueryResponse, Source
from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.deadline import DeadlineExceeded
from ragchaos.reference_app.resilience import DependencyUnavailable
from ragchaos.reference_app.retries import classify

__all__ = ["as_unavailable", "retrieval_only", "stale_answer", "unavailable"]


def as_unavailable(exc: BaseException, dependency: str) -> DependencyUnavailable | None:
    """The failure as DependencyUnavailable if it is one a fallback should absorb, else None.

    With the ``retries`` switch off a transient error reaches us unchanged after one attempt; it
    still deserves the fallback. Non-retryable errors (a 400, insufficient_quota) are not
    absorbed: they surface as a 502 naming the dependency.
    """
    if isinstance(exc, DependencyUnavailable):
        return exc
    if isinstance(exc, DeadlineExceeded):
        return DependencyUnavailable(dependency, "deadline")
    failure = classify(exc)
    if failure.retryable:
        return DependencyUnavailable(dependency, failure.reason, failure.retry_after)
    return None


def degraded_reason(exc: DependencyUnavailable) -> str:
    return f"{exc.dependency}_unavailable"


def stale_answer(cached: QueryResponse, exc: DependencyUnavailable, metrics: AppMetrics) -> QueryResponse:
    metrics.fallbacks.labels(kind="cache").inc()
    return cached.model_copy(update={"cached": "response", "degraded": degraded_reason(exc)})


def retrieval_only(
    sources: list[Source], passages: list[Passage], exc: DependencyUnavailable, metrics: AppMetrics
) -> QueryResponse:
    metrics.fallbacks.labels(kind="retrieval_only").inc()
    if passages:
        lines = [f"[{n}] (doc {p.doc_id}) {p.text.strip()[:300]}" for n, p in enumerate(passages, start=1)]
        text = "The answer service is unavailable; the most relevant passages are:\n" + "\n".join(lines)
    else:
        text = "The answer service is unavailable and no passages matched."
    return QueryResponse(answer=text, sources=sources, degraded=degraded_reason(exc))


def unavailable(exc: DependencyUnavailable, metrics: AppMetrics) -> DependencyUnavailable:
    """No fallback answer: count it and hand the error back to raise (http_errors.py answers
    503 with Retry-After and X-Degraded)."""
    metrics.fallbacks.labels(kind="unavailable").inc()
    return exc
