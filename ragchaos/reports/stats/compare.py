"""Two samples of one metric (baseline, candidate): is the candidate's quantile higher?

The effect is the ratio r = q_cand / q_base, analysed as ln r. Each arm's standard error of
ln q comes from the width of its order-statistic interval (see ``quantile``), so nothing is
assumed about the shape of the distribution; the two arms are independent samples (two apps
under the same schedule and faults). The test is one-sided, H0: r <= 1 + tolerance, with a
normal approximation for ln r (checked by simulation in tests/reports/test_stats.py and
benchmarks/bench_gate_stats.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from ragchaos.reports.stats.power import resolution
from ragchaos.reports.stats.quantile import QuantileEstimate, quantile_ci
from ragchaos.reports.stats.sample import Sample

__all__ = ["Difference", "compare_quantiles"]


@dataclass(frozen=True)
class Difference:
    base: QuantileEstimate
    cand: QuantileEstimate
    ratio: float | None = None  # cand / base; None: insufficient data
    low: float | None = None  # the ratio's confidence interval
    high: float | None = None
    p_value: float | None = None  # one-sided: P(a ratio this high | r <= 1 + tolerance)
    se_log: float | None = None
    confidence: float = 0.95

    @property
    def sufficient(self) -> bool:
        return self.p_value is not None

    def resolution(self, alpha: float, power: float = 0.95, tolerance: float = 0.0) -> float | None:
        """The smallest increase this pair detects with ``power`` at level ``alpha``."""
        return None if self.se_log is None else resolution(self.se_log, alpha, power, tolerance)


def compare_quantiles(base: Sample, cand: Sample, p: float, *, tolerance: float = 0.0,
                      confidence: float = 0.95) -> Difference:
    """The candidate's p-quantile relative to the baseline's, with a ``confidence`` interval
    and a one-sided p-value for "more than ``tolerance`` slower"."""
    qa, qb = quantile_ci(base, p, confidence), quantile_ci(cand, p, confidence)
    if qa.log_se is None or qb.log_se is None or not qa.value or not qb.value:
        return Difference(qa, qb, confidence=confidence)
    d = math.log(qb.value / qa.value)
    se = math.hypot(qa.log_se, qb.log_se)
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    p_value = float(stats.norm.sf((d - math.log1p(tolerance)) / se))
    return Difference(qa, qb, math.exp(d), math.exp(d - z * se), math.exp(d + z * se), p_value, se, confidence)
