"""Fallbacks: degraded answers served instead of errors."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("fallback", unit="fallback answers", aliases=("fallbacks", "degradation"))
def fallback(ctx: Context) -> Measurement:
    """Sum of ``ragchaos_fallback_total``; the detail splits it by kind."""
    c = ctx.figures.counters
    total = c.count("ragchaos_fallback_total") if c else None
    if c is None or total is None:
        return Measurement(None, detail="ragchaos_fallback_total not reported")
    kinds = ", ".join(f"{k}: {int(v)}" for k, v in sorted(c.by("ragchaos_fallback_total", "kind").items()) if v)
    return Measurement(total, detail=f"by kind: {kinds}" if kinds else "none")
