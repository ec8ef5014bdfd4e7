"""p99 that stays up for a whole latency fault: the caller waits as long as the dependency does."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import figures
from ragchaos.reports.observations.base import Observation, register
from ragchaos.reports.results import RunResult

# a second counts as "tracking" when its p99 is at least this many times the steady p99
FACTOR = 3.0
# ... and the fault is "tracked" when at least this share of its seconds did
SHARE = 0.8
MIN_SECONDS = 3


@register("p99_tracked_fault")
class P99TrackedFault:
    def __call__(self, result: RunResult) -> list[Observation]:
        out = []
        for f in result.faults:
            if f.target not in result.apps or f.applied_at_s is None or f.dependency == "provider":
                continue
            app = result.apps[f.target]
            if "steady" not in app.phases:
                continue
            steady = figures(result, f.target, "steady").response.get("query")
            if steady is None or steady.count < 20:
                continue  # too few to say what normal is
            end = f.reverted_at_s if f.reverted_at_s is not None else result.duration_s
            seconds = [i for i in app.intervals if i.kind == "query" and f.applied_at_s <= i.t_s < end and i.requests]
            if len(seconds) < MIN_SECONDS:
                continue
            high = [i for i in seconds if i.p99_us >= FACTOR * steady.p99_us]
            if len(high) / len(seconds) >= SHARE:
                out.append(Observation(
                    "p99_tracked_fault", app=f.target,
                    text=f"{f.target}'s p99 tracked the {f.dependency} fault ({f.what}) for its whole length: does "
                         f"its client have a timeout on {f.dependency}, and a fallback when it fires?",
                    evidence=f"{len(high)} of {len(seconds)} seconds of {f.name} had a p99 at least {FACTOR:g}x the "
                             f"steady p99 ({fmt.ms(steady.p99_us)}); worst second {fmt.ms(max(i.p99_us for i in seconds))}"))
        return out
