"""Load models, one file each, registered by ``kind``.

A load model is a pydantic model with ``kind: Literal[...]``, ``validate() -> list[str]``,
``describe() -> str``, a pure ``plan() -> list[PlannedStep]`` (what ``--dry-run`` prints) and
``total_s``. ``Load`` is the discriminated union the scenario file loads into; adding a model
means adding a file here, importing it below and naming it in ``Load`` (spelled out so that a
type checker sees the union; the import fails if the two disagree).
"""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import Field

from ragchaos.scenarios.loads.arrivals import ArrivalLoad, ArrivalStage
from ragchaos.scenarios.loads.base import LOAD_KINDS, PlannedStep, register
from ragchaos.scenarios.loads.users import UserLoad, UserStage

__all__ = [
    "LOAD_KINDS",
    "ArrivalLoad",
    "ArrivalStage",
    "Load",
    "PlannedStep",
    "UserLoad",
    "UserStage",
    "register",
]

Load = Annotated[ArrivalLoad | UserLoad, Field(discriminator="kind")]

if set(get_args(get_args(Load)[0])) != set(LOAD_KINDS.values()):
    raise ImportError(f"ragchaos.scenarios.loads: Load names {get_args(get_args(Load)[0])}, "
                      f"the registry holds {sorted(LOAD_KINDS)}; name every registered model in Load")
