"""429s answered by immediate extra attempts multiply the load on a provider that is already saying no."""

from __future__ import annotations

from ragchaos.reports import fmt
from ragchaos.reports.analysis import figures
from ragchaos.reports.observations.base import Observation, register
from ragchaos.reports.results import RunResult

MIN_429 = 10  # fewer is noise


@register("retry_storm")
class RetryStorm:
    def __call__(self, result: RunResult) -> list[Observation]:
        out = []
        for app, a in result.apps.items():
            if "steady" not in a.phases:
                continue
            base = figures(result, app, "steady").per_answer(figures(result, app, "steady").provider_calls)
            for phase in a.phases:
                f = figures(result, app, phase)
                limited, retries = f.provider_rate_limited or 0, f.provider_retries or 0
                per = f.per_answer(f.provider_calls)
                if limited < MIN_429 or retries < 0.8 * limited or per is None or base is None or per < 1.5 * base:
                    continue
                out.append(Observation(
                    "retry_storm", app=app,
                    text=f"In {phase}, {app} met the provider's 429s with retries: {fmt.num(retries)} retries behind "
                         f"{fmt.num(limited)} 429s. Is Retry-After honoured, and is there a retry budget?",
                    evidence=f"provider attempts per answered query {fmt.num(per)} in {phase} vs {fmt.num(base)} "
                             f"steady; {fmt.num(retries)} requests carried the SDK's retry count > 0"))
        return out
