"""The resolution of a comparison: the smallest change it detects with the asked power."""

from __future__ import annotations

import math

from scipy import stats

__all__ = ["resolution"]


def resolution(se_log: float, alpha: float = 0.05, power: float = 0.95, tolerance: float = 0.0) -> float:
    """Minimum detectable relative increase (0.2 = +20%) for a one-sided test at level ``alpha``
    of ln(ratio) > ln(1 + tolerance), whose estimate has standard error ``se_log``:
    exp(ln(1 + tolerance) + (z_{1-alpha} + z_{power}) se) - 1."""
    z = stats.norm.ppf(1.0 - alpha) + stats.norm.ppf(power)
    return math.exp(math.log1p(tolerance) + z * se_log) - 1.0
