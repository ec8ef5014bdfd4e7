"""Number formatting shared by the sections (one place, so Markdown and HTML agree)."""

from __future__ import annotations

import numpy as np

__all__ = ["count", "ms", "pct", "rate", "usd", "num"]


def ms(us: float | None) -> str:
    """Microseconds as a readable latency: ``850 us``, ``12.3 ms``, ``2.41 s``."""
    if us is None:
        return "–"
    if us >= 1_000_000:
        return f"{us / 1_000_000:.3g} s"
    if us >= 1_000:
        return f"{us / 1_000:.3g} ms"
    return f"{us:.0f} us"


def pct(fraction: float | None) -> str:
    if fraction is None:
        return "–"
    if fraction == 0:
        return "0%"
    return f"{fraction * 100:.3g}%"


def rate(per_s: float | None) -> str:
    return "–" if per_s is None else f"{per_s:.3g}/s"


def usd(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 1:
        return f"${value:,.2f}"
    # three significant figures, never in exponent form: $0.0000925
    return "$" + np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-")


def num(value: float | None) -> str:
    if value is None:
        return "–"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.3g}"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"
