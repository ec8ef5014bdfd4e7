"""Open model: requests arrive on a global schedule whether or not earlier ones have returned.

Each stage holds a rate (requests per second across all users) for its duration, or ramps
linearly to it from the previous stage's rate (``ramp: true``). Arrivals are evenly spaced
(``constant``) or a seeded Poisson process (``poisson``); ``scenarios.schedule`` turns this
into the list of intended send times.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.scenarios.loads.base import PlannedStep, bounds_problems, register
from ragchaos.scenarios.units import Duration

__all__ = ["ArrivalLoad", "ArrivalStage"]


class ArrivalStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration: Duration
    rate: float = Field(ge=0, le=5000, description="requests per second, all users together")
    ramp: bool = Field(default=False, description="ramp linearly from the previous stage's rate")
    phase: str | None = None


@register("arrivals")
class ArrivalLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["arrivals"]
    arrivals: Literal["constant", "poisson"] = "poisson"
    stages: list[ArrivalStage] = Field(min_length=1)
    max_in_flight: int = Field(
        default=200, ge=1, le=5000,
        description="requests outstanding at once per app; an arrival beyond it is dropped and counted",
    )

    @property
    def total_s(self) -> float:
        return sum(s.duration for s in self.stages)

    def validate_load(self) -> list[str]:
        errors = []
        if self.total_s <= 0:
            errors.append("load: the stages last 0 seconds in total")
        errors += bounds_problems(self.total_s, self.expected_requests())
        if self.stages[0].ramp:
            errors.append("load.stages.0: the first stage cannot ramp (there is no rate before it); it ramps from 0")
        return errors

    def describe(self) -> str:
        peak = max(s.rate for s in self.stages)
        return (f"open model ({self.arrivals} arrivals): {len(self.stages)} stages over {self.total_s:.0f}s, "
                f"up to {peak:g} req/s, about {self.expected_requests():.0f} requests per app")

    def segments(self) -> list[tuple[float, float, float, float]]:
        """(start_s, end_s, rate_at_start, rate_at_end) per stage: the piecewise-linear rate."""
        out, t, prev = [], 0.0, 0.0
        for s in self.stages:
            r0 = prev if s.ramp else s.rate
            out.append((t, t + s.duration, r0, s.rate))
            t += s.duration
            prev = s.rate
        return out

    def expected_requests(self) -> float:
        return sum((e - s) * (r0 + r1) / 2 for s, e, r0, r1 in self.segments())

    def plan(self) -> list[PlannedStep]:
        steps = []
        for (start, end, r0, r1), s in zip(self.segments(), self.stages, strict=True):
            what = f"ramp {r0:g} -> {r1:g} req/s" if r0 != r1 else f"{r1:g} req/s"
            steps.append(PlannedStep(start, end, what, s.phase))
        return steps

    def stage_bounds(self) -> list[tuple[float, float, str | None]]:
        return [(s, e, st.phase) for (s, e, _, _), st in zip(self.segments(), self.stages, strict=True)]
