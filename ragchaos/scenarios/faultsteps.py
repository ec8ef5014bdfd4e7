"""The scenario's ``faults:`` list, as the faults part defines it (``faults.step.FaultStep``).

The fault step models and the ``Timeline`` that applies them belong to ``faults/``; this module
is the one place the scenario code touches their shape, so a change there is a change here only.
"""

from __future__ import annotations

from typing import Any

from ragchaos.faults.step import FaultStep

__all__ = ["FaultStep", "fault_problems", "fault_window", "scale_fault"]


def fault_window(step: FaultStep, total_s: float) -> tuple[float, float]:
    """Planned (start, end) seconds of a step; a step without a duration lasts to the end."""
    end = total_s if step.duration is None else min(total_s, step.at + step.duration)
    return step.at, end


def fault_problems(step: FaultStep, apps: list[str], total_s: float) -> list[tuple[tuple[str, ...], str]]:
    """The faults part's own checks, plus where in the step each one points."""
    out: list[tuple[tuple[str, ...], str]] = []
    for msg in step.validate(apps, total_s):
        where: tuple[str, ...] = ()
        for field in ("app", "at", "duration", "dependency", "name"):
            if f": {field} " in msg or f"{field}=" in msg or f"app {field!r}" in msg:
                where = (field,)
                break
        if "is not in this run" in msg:
            where = ("app",)
        out.append((where, msg))
    return out


def scale_fault(step: FaultStep, factor: float) -> dict[str, Any]:
    data = step.model_dump()
    data["at"] = step.at * factor
    if step.duration is not None:
        data["duration"] = step.duration * factor
    return data
