"""The ingest queue's dead letters: jobs refused for good (poison) or out of attempts.

With ``workload.ingest_bursts[].poison_share`` the scenario knows how many poison documents it
sent; a check such as ``reference.mechanism.dead_letters == 3`` then says every poison was
isolated and no good document was buried with it. ``ingest_retries`` counts the attempts the
queue put back for a transient failure (the fault window's work).
"""

from ragchaos.reports.mechanisms.base import Context, Measurement, register

_JOBS = "ragchaos_ingest_jobs_total"


def _outcome(ctx: Context, outcome: str) -> Measurement:
    c = ctx.figures.counters
    value = c.count(_JOBS, outcome=outcome) if c else None
    if value is None:
        return Measurement(None, detail=f"{_JOBS} not reported (no ingest queue)")
    parts = {o: c.count(_JOBS, outcome=o) or 0 for o in ("indexed", "retried", "dead_lettered")} if c else {}
    return Measurement(value, detail=", ".join(f"{k}: {int(v)}" for k, v in parts.items()))


@register("dead_letters", unit="jobs")
def dead_letters(ctx: Context) -> Measurement:
    """Jobs that became dead letters (``ragchaos_ingest_jobs_total{outcome="dead_lettered"}``)."""
    return _outcome(ctx, "dead_lettered")


@register("ingest_retries", unit="attempts")
def ingest_retries(ctx: Context) -> Measurement:
    """Ingest attempts put back after a transient failure (``outcome="retried"``)."""
    return _outcome(ctx, "retried")
