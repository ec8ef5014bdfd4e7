"""Durations and rates as people write them in a scenario file: ``90s``, ``2m``, ``500ms``, ``5%``."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Duration", "Fraction", "Ratio", "parse_duration", "parse_fraction", "parse_ratio"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``250ms`` or ``1h``; negative or junk is an error."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '90s', '2m', '500ms'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. '90s', '2m', '500ms'")
        seconds = float(match.group(1)) * _SCALE[match.group(2)]
    else:
        raise ValueError("a duration is a number of seconds or a string like '90s', '2m', '500ms'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_fraction(value: object) -> float:
    """A fraction in [0, 1] from ``0.05`` or ``5%``."""
    if isinstance(value, bool):
        raise ValueError("a fraction is a number in [0, 1] or a percentage like '5%'")
    if isinstance(value, str):
        text = value.strip()
        try:
            frac = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a fraction; write e.g. 0.05 or '5%'") from None
    elif isinstance(value, int | float):
        frac = float(value)
    else:
        raise ValueError("a fraction is a number in [0, 1] or a percentage like '5%'")
    if not 0.0 <= frac <= 1.0:
        raise ValueError(f"{value!r} is outside [0, 1]")
    return frac


def parse_ratio(value: object) -> float:
    """A non-negative ratio from ``2``, ``0.5`` or ``200%`` (may exceed 1, unlike a fraction)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            ratio = float(value.strip()[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"{value!r} is not a ratio; write e.g. 0.5 or '50%'") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        ratio = float(value)
    else:
        raise ValueError(f"{value!r} is not a ratio; write e.g. 0.5 or '50%'")
    if ratio < 0:
        raise ValueError(f"{value!r} is negative")
    return ratio


Duration = Annotated[float, BeforeValidator(parse_duration)]
Ratio = Annotated[float, BeforeValidator(parse_ratio)]
Fraction = Annotated[float, BeforeValidator(parse_fraction)]
