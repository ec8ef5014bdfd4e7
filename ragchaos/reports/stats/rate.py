"""Two counts over the same exposure (answers within the SLO, provider calls per answer): their
ratio and its interval.

Each count is taken as Poisson given its exposure (the same schedule's seconds, or the answers
it was spent on), so ln(ratio) has standard error sqrt(1/a + 1/b) (the log-normal interval for
a rate ratio; Rothman, Modern Epidemiology, ch. 14). A count of zero leaves the ratio without an
interval: the report says so rather than invent one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

__all__ = ["RateRatio", "rate_ratio"]


@dataclass(frozen=True)
class RateRatio:
    base: float | None  # count / exposure of each arm
    cand: float | None
    ratio: float | None = None  # cand / base
    low: float | None = None
    high: float | None = None


def rate_ratio(base_count: float, base_exposure: float, cand_count: float, cand_exposure: float,
               confidence: float = 0.95) -> RateRatio:
    """(cand_count / cand_exposure) / (base_count / base_exposure) with its interval."""
    base = base_count / base_exposure if base_exposure > 0 else None
    cand = cand_count / cand_exposure if cand_exposure > 0 else None
    if base is None or cand is None or base_count <= 0 or cand_count <= 0:
        return RateRatio(base, cand)
    ratio = cand / base
    se = math.sqrt(1.0 / base_count + 1.0 / cand_count)
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    return RateRatio(base, cand, ratio, ratio * math.exp(-z * se), ratio * math.exp(z * se))
