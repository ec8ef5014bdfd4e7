"""The registry of load models and the plan they produce."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from ragchaos.core.registry import Registry

__all__ = ["LOAD_KINDS", "MAX_REQUESTS", "MAX_TOTAL_S", "PlannedStep", "bounds_problems", "register"]

LOAD_KINDS: Registry[type[BaseModel]] = Registry("load kind")

# Hard caps on one run's load, whatever the file says: a harness must not turn into an
# unbounded load generator through a typo ("60m" for "60s", a rate with one zero too many).
MAX_TOTAL_S = 3600.0
MAX_REQUESTS = 2_000_000


def bounds_problems(total_s: float, expected_requests: float | None = None) -> list[str]:
    """What breaks the hard caps (an empty list when the load is within them)."""
    out = []
    if total_s > MAX_TOTAL_S:
        out.append(f"load: the stages last {total_s:.0f}s in total; a run is capped at {MAX_TOTAL_S:.0f}s")
    if expected_requests is not None and expected_requests > MAX_REQUESTS:
        out.append(f"load: about {expected_requests:.0f} requests per app; a run is capped at {MAX_REQUESTS}")
    return out


_Model = TypeVar("_Model", bound=BaseModel)


def register(kind: str) -> Callable[[type[_Model]], type[_Model]]:
    """Class decorator: make a load model loadable as ``load: {kind: <kind>}``."""

    return LOAD_KINDS.register(kind)


@dataclass(frozen=True)
class PlannedStep:
    """One stretch of the plan: what the load does from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    what: str
    phase: str | None = None

    def line(self) -> str:
        label = f" [{self.phase}]" if self.phase else ""
        return f"{self.start_s:7.1f}s - {self.end_s:7.1f}s  {self.what}{label}"
