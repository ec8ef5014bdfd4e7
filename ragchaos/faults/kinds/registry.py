"""The fault kinds a scenario step may name, by their ``kind`` literal.

Each kind class is decorated with ``@fault_kind``; the name is the class's own ``kind`` field
default, so it is written once. ``kinds/__init__.py`` checks that the pydantic union a step is
parsed with holds exactly the registered kinds.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from ragchaos.core.registry import Registry

__all__ = ["FAULT_SPECS", "fault_kind", "kinds_of_channel"]

FAULT_SPECS: Registry[type[BaseModel]] = Registry("fault kind")

_Kind = TypeVar("_Kind", bound=type[BaseModel])


def fault_kind(cls: _Kind) -> _Kind:
    model: type[BaseModel] = cls
    FAULT_SPECS.add(str(model.model_fields["kind"].default), cls)
    return cls


def kinds_of_channel(channel: str) -> tuple[type[BaseModel], ...]:
    """The registered kinds of one channel (``network``, ``provider``), in registration order."""
    return tuple(c for c in FAULT_SPECS.values() if getattr(c, "channel", None) == channel)
