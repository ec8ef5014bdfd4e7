"""A breaker's whole cycle: it opened, calls failed fast meanwhile, it half-opened and closed again."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("breaker_recovery", unit="breaker recoveries")
def breaker_recovery(ctx: Context) -> Measurement:
    """How many times a breaker closed again after opening (``ragchaos_breaker_transitions_total``
    to ``closed``, which only a successful half-open probe causes), counted only when the breaker
    also opened and failed calls fast while open (``ragchaos_shed_total{reason="breaker_open"}``,
    each served a fallback or a 503): a breaker that never opened, or opened and never let the
    dependency back in, shows 0."""
    c = ctx.figures.counters
    if c is None or c.count("ragchaos_breaker_transitions_total") is None:
        return Measurement(None, detail="ragchaos_breaker_transitions_total not reported")
    opened = c.count("ragchaos_breaker_transitions_total", to="open") or 0.0
    half = c.count("ragchaos_breaker_transitions_total", to="half_open") or 0.0
    closed = c.count("ragchaos_breaker_transitions_total", to="closed") or 0.0
    failed_fast = c.count("ragchaos_shed_total", reason="breaker_open") or 0.0
    value = closed if opened and failed_fast else 0.0
    return Measurement(value, detail=f"opened {int(opened)}, failed fast while open {int(failed_fast)}, "
                                     f"half-opened {int(half)}, closed {int(closed)}")
