"""Retries of dependency calls (backoff that rides out transient 429s and 5xx)."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("retries", unit="retries")
def retries(ctx: Context) -> Measurement:
    """Sum of ``ragchaos_retries_total``; the detail splits it by reason."""
    c = ctx.figures.counters
    total = c.count("ragchaos_retries_total") if c else None
    if total is None:
        return Measurement(None, detail="ragchaos_retries_total not reported")
    reasons = ", ".join(f"{k}: {int(v)}" for k, v in sorted(ctx.figures.retries_by_reason.items()) if v)
    return Measurement(total, detail=f"by reason: {reasons}" if reasons else "none")
