"""The startup heap frozen out of the collector's full passes: how long those passes held the app."""

from ragchaos.reports.mechanisms.base import Context, Measurement, register


@register("gc_freeze", unit="ms of full-pass pauses per minute")
def gc_freeze(ctx: Context) -> Measurement:
    """Stop-the-world time in the cyclic collector's full passes, per minute of the phase
    (``ragchaos_gc_full_pass_seconds``). Frozen, the ci scenario's reference app made no full
    pass in 95 s, unfrozen one of 174 ms; with more cache misses, 169-209 against 646-714 ms
    a minute (benchmarks/bench_gc_freeze.py)."""
    f = ctx.figures
    count = f.counters.total("ragchaos_gc_full_pass_seconds_count") if f.counters else None
    seconds = f.counters.total("ragchaos_gc_full_pass_seconds_sum") if f.counters else None
    if count is None or seconds is None or not f.duration_s:
        return Measurement(None, detail="the app reports no collector timings")
    per_minute = seconds * 1000 * 60 / f.duration_s
    mean = f" of {seconds * 1000 / count:.0f} ms on average" if count else ""
    return Measurement(per_minute, detail=f"{int(count)} full passes{mean} in {f.duration_s:.0f} s")
