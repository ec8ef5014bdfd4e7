"""Client-side pacing of provider calls: the provider should (almost) never say 429."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("pacing", unit="provider 429s", aliases=("rate_limiting",))
def pacing(ctx: Context) -> Measurement:
    """Requests the provider rate-limited for the app's key (provider ``/_stats`` rate_limited)."""
    f = ctx.figures
    if f.provider_rate_limited is None:
        return Measurement(None, detail="no provider stats for this app")
    calls = int(f.provider_calls or 0)
    return Measurement(f.provider_rate_limited, detail=f"of {calls} provider calls")
