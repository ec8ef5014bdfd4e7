"""Bulkheads and load shedding: requests refused fast instead of queued."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("shedding", unit="requests shed", aliases=("bulkhead", "load_shedding"))
def shedding(ctx: Context) -> Measurement:
    """Sum of ``ragchaos_shed_total`` (the app's count); the detail adds what clients saw as
    ``shed`` (503 with Retry-After)."""
    c = ctx.figures.counters
    total = c.count("ragchaos_shed_total") if c else None
    seen = ctx.figures.errors.get("shed", 0)
    if c is None or total is None:
        return Measurement(None, detail=f"ragchaos_shed_total not reported; clients saw {seen} shed answers")
    reasons = ", ".join(f"{k}: {int(v)}" for k, v in sorted(c.by("ragchaos_shed_total", "reason").items()) if v)
    return Measurement(total, detail=f"clients saw {seen} shed answers" + (f"; by reason: {reasons}" if reasons else ""))
