"""Toxics by name: ``register("latency")`` on each class, ``new_toxic(type, attributes)`` to build one.

Importing this package imports every toxic module so they register themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ragchaos.core.registry import Registry, UnknownName
from ragchaos.faults.toxics.base import Toxic

__all__ = ["TOXICS", "UnknownToxic", "new_toxic", "register"]

TOXICS: Registry[type[Toxic]] = Registry("toxic")

UnknownToxic = UnknownName

_ToxicClass = TypeVar("_ToxicClass", bound=type[Toxic])


def register(name: str) -> Callable[[_ToxicClass], _ToxicClass]:
    """``@register("latency")``: the class is the toxic type ``latency`` (and knows it: ``type_name``)."""
    return TOXICS.register(name, tag="type_name")


def new_toxic(type_name: str, attributes: dict[str, Any] | None) -> Toxic:
    """A fresh toxic of ``type_name`` with ``attributes`` decoded over its zero values."""
    return TOXICS.get_or_raise(type_name)().merged(attributes)


# the toxics register themselves on import
from ragchaos.faults.toxics import (  # noqa: E402,F401
    bandwidth,
    latency,
    limit_data,
    noop,
    reset_churn,
    reset_peer,
    slicer,
    slow_close,
    timeout,
)
