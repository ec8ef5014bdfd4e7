"""Why an ingest job failed, and when to try it again.

``classify_ingest`` splits failures in two. *Permanent*: the dependency refused the document
itself (the provider's 400 for an input over the embedding model's limit, a 413 or 422, the
vector store's validation error); another attempt sends the same bytes and gets the same answer,
so the job goes to dead letters at once. *Transient*: timeouts, 429s, 5xx, resets, a breaker or
bulkhead shedding, a deadline; the dependency may answer next time, so the job is retried with
backoff. An error we cannot place is transient: the per-job attempt limit bounds it, and a
dead letter from it is still replayable, whereas calling a fault permanent would bury good
documents during an outage. Credentials and quota (401, 403, 404, insufficient_quota) are not the
document's fault either: transient, so fixing the key lets the queue drain.

``Backoff``: exponential with "equal jitter" (a draw in [base/2, base]), capped; the random
source is injected.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from chromadb.errors import ChromaError

from ragchaos.reference_app.retries import FailedFast, classify

__all__ = ["Backoff", "FailureKind", "classify_ingest", "describe"]

FailureKind = Literal["permanent", "transient"]

_REFUSALS = {400, 413, 422}  # statuses that judge the request body: the document itself


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    if isinstance(exc, ChromaError):
        return exc.code()
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def classify_ingest(exc: BaseException) -> FailureKind:
    if isinstance(exc, FailedFast):  # shed or given up by a guard: the dependency, not the document
        return "transient"
    if classify(exc).retryable:
        return "transient"
    status = _status(exc)
    if status in _REFUSALS:
        return "permanent"
    if status is None and isinstance(exc, ValueError | TypeError) and type(exc).__module__.startswith("chromadb"):
        return "permanent"  # Chroma's client validates records before sending them
    if status is None and _chroma_validation(exc):
        return "permanent"
    return "transient"


def _chroma_validation(exc: BaseException) -> bool:
    """Chroma's client raises plain ValueError from its validators (chromadb.api.types)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("chromadb.api.types"):
            return isinstance(exc, ValueError | TypeError)
        tb = tb.tb_next
    return False


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    rng: Callable[[], float] = random.random

    def __call__(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1`` (``attempts`` >= 1 made so far)."""
        base = min(self.max_s, self.initial_s * 2 ** max(0, attempts - 1))
        return base / 2 + self.rng() * base / 2
