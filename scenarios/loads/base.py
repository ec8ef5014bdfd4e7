"""The registry of load models and the plan they produce."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

__all__ = ["LOAD_KINDS", "PlannedStep", "register"]

LOAD_KINDS: dict[str, type[BaseModel]] = {}


def register(kind: str):  # type: ignore[no-untyped-def]
    """Class decorator: make a load model loadable as ``load: {kind: <kind>}``."""

    def deco(cls: type[BaseModel]) -> type[BaseModel]:
        if kind in LOAD_KINDS:
            raise ValueError(f"load kind {kind!r} registered twice")
        LOAD_KINDS[kind] = cls
        return cls

    return deco


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
