"""One registry of things by name: toxics, fault kinds, load models, endpoint namers, rules...

Each part that lets a concept be added by dropping in one file keeps a ``Registry`` and
decorates each class (or function) with ``@REGISTRY.register("name")``. The registry is a plain
``dict`` for its readers (``REGISTRY["latency"]``, ``in``, ``items()`` in registration order);
what the helper adds is the part every copy used to write again: refusing a name registered
twice, and an unknown name's error that lists the known ones and the closest.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "UnknownName"]

V = TypeVar("V")
_Obj = TypeVar("_Obj")


class UnknownName(KeyError):
    """A name no entry has; ``str()`` names the known ones and the closest."""

    def __init__(self, what: str, name: str, known: list[str]) -> None:
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(name)
        self.name = name
        self.message = f"unknown {what} {name!r}{hint}; known: {', '.join(known) or '(none)'}"

    def __str__(self) -> str:
        return self.message


class Registry(dict[str, V], Generic[V]):
    """``name -> entry`` for one concept (``what``: "toxic", "fault kind", ... in messages)."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def add(self, name: str, entry: V) -> V:
        if name in self:
            raise ValueError(f"{self.what} {name!r} registered twice")
        self[name] = entry
        return entry

    def register(self, name: str, *, entry: Callable[[Any], V] | None = None, tag: str | None = None) -> _Decorator:
        """Decorator: register the decorated object under ``name`` and return it unchanged.

        ``entry`` makes what is stored from it (e.g. an instance of the decorated class; by
        default the object itself); ``tag`` sets that attribute of the object to ``name`` (a class
        that knows its own registered name)."""
        return _Decorator(lambda obj: self.add(name, entry(obj) if entry is not None else obj), name, tag)

    def get_or_raise(self, name: str) -> V:
        try:
            return self[name]
        except KeyError:
            raise UnknownName(self.what, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self)


class _Decorator:
    """What ``register`` returns: typed so that the decorated object keeps its own type."""

    def __init__(self, add: Callable[[Any], object], name: str, tag: str | None) -> None:
        self._add = add
        self._name = name
        self._tag = tag

    def __call__(self, obj: _Obj) -> _Obj:
        self._add(obj)
        if self._tag is not None:
            setattr(obj, self._tag, self._name)
        return obj
