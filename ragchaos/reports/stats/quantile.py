"""A quantile with its distribution-free confidence interval.

For iid samples from any continuous distribution, the number of samples at or below the true
p-quantile is Binomial(n, p), so [x_(l), x_(u)] with l, u the binomial's alpha/2 and 1 - alpha/2
points (u + 1) covers it with probability >= 1 - alpha (Thompson 1936; Conover 1999). The
interval exists only when u <= n: p^n <= alpha/2, so n >= 368 for p99 at 95%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from ragchaos.reports.stats.sample import Sample

__all__ = ["QuantileEstimate", "min_samples", "quantile_ci", "rank_interval"]


def min_samples(p: float, confidence: float = 0.95) -> int:
    """The smallest n for which a two-sided order-statistic interval of the p-quantile exists."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    tail = (1.0 - confidence) / 2.0
    return int(math.ceil(math.log(tail) / math.log(p)))


def rank_interval(n: int, p: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (l, u) of the interval, or None when n is too small for one."""
    if n < min_samples(p, confidence):
        return None
    tail = (1.0 - confidence) / 2.0
    low = int(stats.binom.ppf(tail, n, p))
    high = int(stats.binom.ppf(1.0 - tail, n, p)) + 1
    return max(1, low), min(n, high)


@dataclass(frozen=True)
class QuantileEstimate:
    p: float
    n: int
    value: float | None  # None: no samples
    low: float | None = None  # None: insufficient data for an interval
    high: float | None = None
    confidence: float = 0.95

    @property
    def sufficient(self) -> bool:
        return self.low is not None

    @property
    def needed(self) -> int:
        return min_samples(self.p, self.confidence)

    @property
    def log_se(self) -> float | None:
        """Standard error of ln(quantile) from the interval's width (normal approximation);
        a width of one bucket at least, so an interval inside one bucket is not 'certain'."""
        if self.low is None or self.high is None or self.low <= 0:
            return None
        z = stats.norm.ppf(0.5 + self.confidence / 2.0)
        return max(math.log(self.high / self.low), 1e-3) / (2.0 * z)


def quantile_ci(sample: Sample, p: float, confidence: float = 0.95) -> QuantileEstimate:
    """The sample p-quantile and its order-statistic interval (``low``/``high`` None when
    there are too few samples: see ``min_samples``)."""
    n = sample.n
    if n == 0:
        return QuantileEstimate(p, 0, None, confidence=confidence)
    value = sample.quantile(p)
    ranks = rank_interval(n, p, confidence)
    if ranks is None:
        return QuantileEstimate(p, n, value, confidence=confidence)
    return QuantileEstimate(p, n, value, sample.order_statistic(ranks[0]), sample.order_statistic(ranks[1]),
                            confidence)
