"""Toxics by name: ``register("latency")`` on each class, ``new_toxic(type, attributes)`` to build one.

Importing this package imports every toxic module so they register themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ragchaos.faults.toxics.base import Toxic

__all__ = ["TOXICS", "UnknownToxic", "new_toxic", "register"]

TOXICS: dict[str, type[Toxic]] = {}


class UnknownToxic(KeyError):
    pass


_ToxicClass = TypeVar("_ToxicClass", bound=type[Toxic])


def register(name: str) -> Callable[[_ToxicClass], _ToxicClass]:
    def deco(cls: _ToxicClass) -> _ToxicClass:
        if name in TOXICS:
            raise RuntimeError(f"toxic {name!r} registered twice")
        cls.type_name = name
        TOXICS[name] = cls
        return cls

    return deco


def new_toxic(type_name: str, attributes: dict[str, Any] | None) -> Toxic:
    """A fresh toxic of ``type_name`` with ``attributes`` decoded over its zero values."""
    try:
        cls = TOXICS[type_name]
    except KeyError:
        raise UnknownToxic(type_name) from None
    return cls().merged(attributes)


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
