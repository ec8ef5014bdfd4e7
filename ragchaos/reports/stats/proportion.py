"""Two independent proportions (an error rate, a degraded share): their difference and its interval.

Newcombe's hybrid score interval (method 10 of Newcombe 1998, "Interval estimation for the
difference between independent proportions"): each arm's Wilson score interval, combined by the
square-and-add rule. Unlike the Wald interval it keeps its coverage near 0% and 100% and with
few events, which is where an error rate of a healthy app lives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

__all__ = ["ProportionDifference", "proportion_difference", "wilson"]


def wilson(events: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``events / n`` (n > 0)."""
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = events / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ProportionDifference:
    base: float | None  # events / n of each arm; None: an arm has no trials
    cand: float | None
    difference: float | None = None  # cand - base
    low: float | None = None
    high: float | None = None


def proportion_difference(base_events: int, base_n: int, cand_events: int, cand_n: int,
                          confidence: float = 0.95) -> ProportionDifference:
    """cand - base with Newcombe's hybrid score interval at ``confidence``."""
    if base_n <= 0 or cand_n <= 0:
        return ProportionDifference(base_events / base_n if base_n > 0 else None,
                                    cand_events / cand_n if cand_n > 0 else None)
    p1, p2 = base_events / base_n, cand_events / cand_n
    l1, u1 = wilson(base_events, base_n, confidence)
    l2, u2 = wilson(cand_events, cand_n, confidence)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return ProportionDifference(p1, p2, d, low, high)
