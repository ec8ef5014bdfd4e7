"""A fault that reached nothing is not a test of anything."""

from __future__ import annotations

from ragchaos.reports.observations.base import Observation, register
from ragchaos.reports.results import RunResult


@register("fault_missed")
class FaultMissed:
    def __call__(self, result: RunResult) -> list[Observation]:
        return [Observation("fault_missed", app=f.target,
                            text=f"The fault {f.name} never reached {f.target}: is it calling its {f.dependency} "
                                 "through the proxy ragchaos gave it?",
                            evidence=f.reach.message)
                for f in result.faults if f.reach is not None and f.reach.verdict == "missed"]
