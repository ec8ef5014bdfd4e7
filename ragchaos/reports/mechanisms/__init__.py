"""Mechanism verdicts: one module per mechanism, registered by name (see ``base``)."""

from ragchaos.reports.mechanisms import (  # noqa: F401  (importing registers them)
    batching,
    breaker,
    breaker_recovery,
    cache,
    correctness,
    dead_letters,
    fallback,
    gc_freeze,
    pacing,
    quotas,
    retries,
    revalidation,
    semantic_cache,
    shedding,
)
from ragchaos.reports.mechanisms.base import (
    Context,
    Measurement,
    Mechanism,
    evaluate,
    format_value,
    get,
    names,
    register,
    verdict_line,
)

__all__ = [
    "Context",
    "Measurement",
    "Mechanism",
    "evaluate",
    "format_value",
    "get",
    "names",
    "register",
    "verdict_line",
]
