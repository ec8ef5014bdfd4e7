"""Exact-match caching: hit ratio over every cache layer except the semantic one."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("cache", unit="%")
def cache(ctx: Context) -> Measurement:
    """Hits / lookups of ``ragchaos_cache_requests_total`` over the non-semantic layers."""
    c = ctx.figures.counters
    if c is None or c.count("ragchaos_cache_requests_total") is None:
        return Measurement(None, detail="ragchaos_cache_requests_total not reported")
    lookups = {k: v for k, v in c.by("ragchaos_cache_requests_total", "layer").items() if k != "semantic"}
    total = sum(lookups.values())
    if not total:
        return Measurement(0.0, detail="no cache lookups")
    hits = sum(c.count("ragchaos_cache_requests_total", layer=layer, result="hit") or 0.0 for layer in lookups)
    per_layer = ", ".join(f"{k} {100 * ctx.figures.cache_hit_ratio.get(k, 0):.1f}%" for k in sorted(lookups))
    return Measurement(hits / total, detail=f"{int(hits)} hits / {int(total)} lookups ({per_layer})")
