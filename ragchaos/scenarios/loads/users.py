"""Closed model: a number of users, each sending its next request when the last one returns.

Throughput falls as latency rises (the server slows its own load), which is how most Locust
runs behave; use ``arrivals`` for an open model.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ragchaos.scenarios.loads.base import PlannedStep, bounds_problems, register
from ragchaos.scenarios.units import Duration

__all__ = ["UserLoad", "UserStage"]


class UserStage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration: Duration
    users: int = Field(ge=0, le=2000)
    spawn_rate: float = Field(default=10.0, gt=0, description="users started or stopped per second")
    phase: str | None = None


@register("users")
class UserLoad(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["users"]
    stages: list[UserStage] = Field(min_length=1)
    think_time: Duration = Field(default=0.0, description="pause between one user's requests")

    @property
    def total_s(self) -> float:
        return sum(s.duration for s in self.stages)

    def validate_load(self) -> list[str]:
        errors = []
        if self.total_s <= 0:
            errors.append("load: the stages last 0 seconds in total")
        errors += bounds_problems(self.total_s)
        return errors

    def describe(self) -> str:
        peak = max(s.users for s in self.stages)
        return f"closed model: {len(self.stages)} stages over {self.total_s:.0f}s, up to {peak} users"

    def plan(self) -> list[PlannedStep]:
        steps, t = [], 0.0
        for s in self.stages:
            steps.append(PlannedStep(t, t + s.duration, f"{s.users} users (spawn {s.spawn_rate:g}/s)", s.phase))
            t += s.duration
        return steps

    def users_at(self, t: float) -> tuple[int, float] | None:
        """Target users and spawn rate at ``t`` seconds into the run; None once it is over."""
        start = 0.0
        for s in self.stages:
            if t < start + s.duration:
                return s.users, s.spawn_rate
            start += s.duration
        return None

    def stage_bounds(self) -> list[tuple[float, float, str | None]]:
        out, t = [], 0.0
        for s in self.stages:
            out.append((t, t + s.duration, s.phase))
            t += s.duration
        return out
