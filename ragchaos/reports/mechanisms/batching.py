"""Embedding batching: inputs per provider embeddings call."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("batching", unit="chunks per provider call")
def batching(ctx: Context) -> Measurement:
    """Mean of ``ragchaos_embed_batch_size`` (the app's own count); without it, the provider's
    embeddings inputs / requests for the app's key."""
    f = ctx.figures
    if f.embed_batch_mean is not None:
        count = f.counters.total("ragchaos_embed_batch_size_count") if f.counters else None
        return Measurement(f.embed_batch_mean, detail=f"over {int(count or 0)} embeddings calls (app metric)")
    pr = ctx.result.apps[ctx.app].phases
    emb_req = emb_in = 0
    for name, phase in pr.items():
        if ctx.phase not in ("all", name):
            continue
        st = phase.provider.get("embeddings")
        if st:
            emb_req += st.requests
            emb_in += st.inputs
    if emb_req:
        return Measurement(emb_in / emb_req, detail=f"over {emb_req} embeddings calls (provider stats)")
    return Measurement(None, detail="no embeddings calls recorded")
