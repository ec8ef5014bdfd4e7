"""The scenario's ``faults:`` list, as the faults part defines it.

The fault step models and the ``Timeline`` that applies them belong to ``faults/``; this module
is the one place the scenario code touches them, so a change there is a change here only.
Until the faults part's models exist, a step is kept as a loose record (``at``, ``duration``,
``target``, ``dependency``, ``kind`` and the kind's own fields) and checked for those fields.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from scenarios.units import Duration

__all__ = ["FaultStep", "fault_problems", "fault_window", "scale_fault"]


class FaultStep(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: str
    at: Duration = 0.0
    duration: Duration | None = None
    target: str = Field(default="*", description="an app name, or * for every app")
    dependency: str = "provider"

    def describe(self) -> str:
        until = f" for {self.duration:g}s" if self.duration is not None else ""
        return f"{self.kind} on {self.target}/{self.dependency} at {self.at:g}s{until}"


def fault_window(step: Any, total_s: float) -> tuple[float, float]:
    """Planned (start, end) seconds of a step; a step without a duration lasts to the end."""
    start = float(getattr(step, "at", 0.0) or 0.0)
    duration = getattr(step, "duration", None)
    return start, (total_s if duration is None else min(total_s, start + float(duration)))


def fault_problems(step: Any, apps: list[str], total_s: float) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    target = getattr(step, "target", "*")
    if target != "*" and target not in apps:
        out.append((("target",), f"target {target!r} is not one of this scenario's apps ({', '.join(apps)})"))
    start, _ = fault_window(step, total_s)
    if start >= total_s:
        out.append((("at",), f"the fault starts at {start:g}s, after the run ends ({total_s:g}s)"))
    return out


def scale_fault(step: Any, factor: float) -> dict[str, Any]:
    data = step.model_dump()
    for key in ("at", "duration"):
        if data.get(key) is not None:
            data[key] = data[key] * factor
    return data
