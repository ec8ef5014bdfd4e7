"""Load models, one file each, registered by ``kind``.

A load model is a pydantic model with ``kind: Literal[...]``, ``validate() -> list[str]``,
``describe() -> str``, a pure ``plan() -> list[PlannedStep]`` (what ``--dry-run`` prints) and
``total_s``. ``Load`` is the discriminated union the scenario file loads into; adding a model
means adding a file here and importing it below.
"""

from __future__ import annotations

from typing import Annotated, Union

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

Load = Annotated[Union[tuple(LOAD_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007
