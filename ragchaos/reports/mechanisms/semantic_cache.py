"""Semantic caching: hit ratio of the semantic layer."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("semantic_cache", unit="%")
def semantic_cache(ctx: Context) -> Measurement:
    """Hits / lookups of ``ragchaos_cache_requests_total{layer="semantic"}``."""
    c = ctx.figures.counters
    lookups = c.count("ragchaos_cache_requests_total", layer="semantic") if c else None
    if c is None or lookups is None:
        return Measurement(None, detail="ragchaos_cache_requests_total not reported")
    if not lookups:
        return Measurement(0.0, detail="no semantic cache lookups")
    hits = c.count("ragchaos_cache_requests_total", layer="semantic", result="hit") or 0.0
    return Measurement(hits / lookups, detail=f"{int(hits)} hits / {int(lookups)} lookups")
