"""Retrieval correctness: answered queries whose known source document was in the top k."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("correctness", unit="%", aliases=("hit_at_k", "retrieval"))
def correctness(ctx: Context) -> Measurement:
    """``correctness.hit_at_k / correctness.scored`` for the app (whole run)."""
    corr = ctx.result.apps[ctx.app].correctness
    if corr is None or not corr.scored:
        return Measurement(None, detail="no scored queries")
    k = f" (k={corr.k})" if corr.k else ""
    return Measurement(corr.hit_at_k / corr.scored, detail=f"{corr.hit_at_k} of {corr.scored} scored queries{k}")
