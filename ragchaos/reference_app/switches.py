"""The mechanism switches: ``RAGCHAOS_DISABLE=cache,breaker`` turns mechanisms off.

Every mechanism of the reference app has a name here; a scenario switches one off to show what
it is worth. ``cache`` switches off every cache layer (and the single-flight that goes with
the response cache, and the revalidation that carries cached answers across a corpus change). An unknown name is a startup error naming the valid ones, so a typo never
silently runs the full app. Tenant pre-filtering is deliberately *not* a switch: it is a
security property, not an optimisation.
"""

from __future__ import annotations

__all__ = ["CACHE_LAYERS", "MECHANISMS", "Switches", "parse_disabled"]

CACHE_LAYERS = ("semantic_cache", "embedding_cache", "response_cache", "retrieval_cache")
# ours (data path) and the resilience modules'
MECHANISMS = (
    "pooling",
    "batching",
    "bulk_upsert",
    "queue",
    "cache",
    *CACHE_LAYERS,
    "cache_revalidation",
    "retries",
    "breaker",
    "bulkhead",
    "deadline",
    "finish_late",
    "pacing",
    "quotas",
    "admission",
    "gc_freeze",
)


def parse_disabled(text: str) -> frozenset[str]:
    """``"cache, breaker"`` -> {"cache", "breaker"}; ValueError naming the valid names."""
    names = frozenset(p.strip().lower() for p in text.split(",") if p.strip())
    unknown = sorted(names - set(MECHANISMS))
    if unknown:
        raise ValueError(
            f"RAGCHAOS_DISABLE: unknown mechanism(s) {', '.join(unknown)}; valid: {', '.join(MECHANISMS)}"
        )
    return names


class Switches:
    """Which mechanisms are on; ``cache`` off implies every cache layer off."""

    def __init__(self, disabled: frozenset[str]) -> None:
        self.disabled = frozenset(disabled)

    def on(self, name: str) -> bool:
        if name not in MECHANISMS:
            raise KeyError(f"unknown mechanism {name!r}")
        if (name in CACHE_LAYERS or name == "cache_revalidation") and "cache" in self.disabled:
            return False
        return name not in self.disabled

    def effective_disabled(self) -> set[str]:
        """The full set switched off (``cache`` expanded), as the resilience guards expect it."""
        return {m for m in MECHANISMS if not self.on(m)}
