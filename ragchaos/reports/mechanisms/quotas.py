"""Per-tenant quotas: requests refused because a tenant spent its budget."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("quotas", unit="quota rejections", aliases=("quota",))
def quotas(ctx: Context) -> Measurement:
    """Sum of ``ragchaos_quota_rejections_total``; the detail names the tenants."""
    c = ctx.figures.counters
    total = c.count("ragchaos_quota_rejections_total") if c else None
    seen = ctx.figures.errors.get("quota", 0)
    if c is None or total is None:
        return Measurement(None, detail=f"ragchaos_quota_rejections_total not reported; clients saw {seen}")
    tenants = ", ".join(
        f"{k}: {int(v)}" for k, v in sorted(c.by("ragchaos_quota_rejections_total", "tenant").items()) if v
    )
    return Measurement(total, detail=f"clients saw {seen}" + (f"; by tenant: {tenants}" if tenants else ""))
