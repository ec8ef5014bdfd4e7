"""Durations as people write them in a fault step: ``30s``, ``1m30s``, ``500ms`` or a number of seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Duration", "parse_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_HINT = "write a number of seconds or e.g. '30s', '1m30s', '500ms'"


def parse_duration(value: object) -> float:
    """Seconds from ``30``, ``"30"``, ``"30s"``, ``"1m30s"``, ``"500ms"``; negative or junk is an error."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{value!r} is not a duration; {_HINT}")
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"{value!r} is not a duration; {_HINT}") from None
            seconds = sum(float(n) * _SCALE[u] for n, u in parts)
    else:
        seconds = float(value)
    if seconds < 0 or seconds != seconds:  # NaN compares unequal to itself
        raise ValueError(f"{value!r}: a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
