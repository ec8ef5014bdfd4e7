"""Statistics for verdicts that know their noise: small, documented, reusable.

Everything here works on a ``Sample``: the non-empty buckets of an HDR histogram (bucket value,
count), sorted by value. No raw samples are needed, so a verdict can be recomputed from
``results.json`` alone.

- ``quantile_ci(sample, p)``: the p-quantile with a distribution-free confidence interval
  (order-statistic ranks from the binomial distribution, iid samples assumed), or
  ``insufficient`` when the sample is too small for an interval to exist
  (``min_samples(p)``: 368 for p99 at 95%).
- ``compare_quantiles(base, cand, p)``: the candidate's quantile relative to the baseline's,
  a ratio with its confidence interval, a one-sided p-value for "the candidate is slower by more
  than ``tolerance``", and the resolution (the smallest ratio this pair of samples detects
  with the asked power).
- ``holm(p_values, alpha)``: which of a family of tests reject, controlling the family-wise
  error rate (the chance of any false alarm in the whole gate) at ``alpha``.
- ``resolution(se, alpha, power)``: the minimum detectable change for a log-scale standard error.
- ``proportion_difference(...)``: two error rates (or degraded shares), their difference and
  Newcombe's score interval; ``rate_ratio(...)``: two counts over the same exposure (goodput,
  provider calls per answer), their ratio and its log-normal interval (``run --ablate``).
- ``prediction_bound(values, confidence)``: the largest value a new run may show given N >= 3
  earlier runs' values (run-to-run variability, Student t prediction interval, log scale).

scipy.stats supplies the distributions (binomial ranks, normal and t quantiles). Its
``quantile_test`` and ``bootstrap`` need raw samples and cost a resampling loop per metric;
the order-statistic interval walks the histogram's cumulative counts instead, which is exact
for the interval and fast enough to simulate 20,000 gates (benchmarks/bench_gate_stats.py).
"""

from ragchaos.reports.stats.compare import Difference, compare_quantiles
from ragchaos.reports.stats.multiple import holm
from ragchaos.reports.stats.power import resolution
from ragchaos.reports.stats.proportion import ProportionDifference, proportion_difference, wilson
from ragchaos.reports.stats.quantile import QuantileEstimate, min_samples, quantile_ci
from ragchaos.reports.stats.rate import RateRatio, rate_ratio
from ragchaos.reports.stats.runs import RunSpread, prediction_bound
from ragchaos.reports.stats.sample import Sample

__all__ = [
    "Difference",
    "ProportionDifference",
    "QuantileEstimate",
    "RateRatio",
    "RunSpread",
    "Sample",
    "compare_quantiles",
    "holm",
    "min_samples",
    "prediction_bound",
    "proportion_difference",
    "quantile_ci",
    "rate_ratio",
    "resolution",
    "wilson",
]
