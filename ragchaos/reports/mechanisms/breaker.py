"""Circuit breaking: how often a breaker opened."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("breaker", unit="breaker openings")
def breaker(ctx: Context) -> Measurement:
    """``ragchaos_breaker_transitions_total{to="open"}``; the detail lists every transition."""
    c = ctx.figures.counters
    total = c.count("ragchaos_breaker_transitions_total") if c else None
    if c is None or total is None:
        return Measurement(None, detail="ragchaos_breaker_transitions_total not reported")
    opened = c.count("ragchaos_breaker_transitions_total", to="open") or 0.0
    moves = ", ".join(f"{k}: {int(v)}" for k, v in sorted(ctx.figures.breaker_transitions.items()) if v)
    return Measurement(opened, detail=f"transitions {moves}" if moves else "no transitions")
