"""Cache revalidation: cached answers kept across the corpus changes that cannot alter them."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("revalidation", unit="%", aliases=("cache_revalidation",))
def revalidation(ctx: Context) -> Measurement:
    """Kept / re-checked of ``ragchaos_cache_carried_total`` (response and semantic layers)."""
    c = ctx.figures.counters
    if c is None or c.count("ragchaos_cache_carried_total") is None:
        return Measurement(None, detail="ragchaos_cache_carried_total not reported")
    checked = c.count("ragchaos_cache_carried_total") or 0.0
    if not checked:
        return Measurement(0.0, detail="no cached answer was re-checked (no corpus change, or nothing cached)")
    kept = c.count("ragchaos_cache_carried_total", result="kept") or 0.0
    per_layer = ", ".join(
        f"{layer} {int(c.count('ragchaos_cache_carried_total', layer=layer, result='kept') or 0)}/{int(n)}"
        for layer, n in sorted(c.by("ragchaos_cache_carried_total", "layer").items()) if n
    )
    return Measurement(kept / checked, detail=f"{int(kept)} of {int(checked)} cached answers kept across corpus "
                                              f"changes ({per_layer})")
