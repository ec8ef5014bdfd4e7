"""The gate's statistics against distributions whose quantiles are known (ragchaos.reports.stats).

Coverage and false-alarm rates are estimated from seeded simulations with enough repetitions
that the tolerances below hold with a wide margin (binomial standard errors in the comments).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.stats import (
    Sample,
    compare_quantiles,
    holm,
    min_samples,
    prediction_bound,
    quantile_ci,
    resolution,
)
from ragchaos.reports.stats.multiple import holm_adjusted

LOGNORMAL_SIGMA = 0.5


def _lognormal(rng: np.random.Generator, n: int, scale: float = 1.0) -> Sample:
    return Sample.from_values(np.exp(rng.normal(0.0, LOGNORMAL_SIGMA, n)) * scale * 100_000)


def test_min_samples_matches_the_binomial_existence_rule() -> None:
    assert min_samples(0.99) == 368  # 0.99^368 <= 0.025 < 0.99^367
    assert min_samples(0.999) == 3688
    assert min_samples(0.90) == 36
    assert 0.99 ** 368 <= 0.025 < 0.99 ** 367


@pytest.mark.parametrize("p, n", [(0.5, 200), (0.9, 400), (0.99, 1000), (0.99, 5000)])
def test_interval_coverage_on_a_known_lognormal(p: float, n: int) -> None:
    """The order-statistic interval covers the true quantile in >= 95% of samples (it is
    conservative: the binomial is discrete). 1,000 trials: SE of a 95% rate is 0.7%."""
    rng = np.random.default_rng(20261206)
    truth = math.exp(LOGNORMAL_SIGMA * sps.norm.ppf(p)) * 100_000
    covered = 0
    for _ in range(1000):
        est = quantile_ci(_lognormal(rng, n), p)
        assert est.low is not None and est.high is not None
        covered += est.low <= truth <= est.high
    assert 0.93 <= covered / 1000 <= 0.995


def test_interval_on_an_hdr_histogram_brackets_the_percentile() -> None:
    rng = np.random.default_rng(1)
    h = Histogram()
    values = rng.exponential(50_000, 5000)
    h.record_many_us(values)
    est = quantile_ci(Sample.of(h), 0.99)
    truth = 50_000 * math.log(100)  # exponential p99 = mean ln(100)
    assert est.n == 5000
    assert est.low is not None and est.high is not None and est.low <= truth <= est.high
    assert est.value == pytest.approx(h.percentile_us(99.0), rel=0.002)


def test_too_few_samples_give_no_interval_and_say_how_many_are_needed() -> None:
    est = quantile_ci(_lognormal(np.random.default_rng(2), 43), 0.99)
    assert not est.sufficient and est.low is None and est.needed == 368 and est.n == 43
    assert compare_quantiles(_lognormal(np.random.default_rng(3), 43), _lognormal(np.random.default_rng(4), 5000),
                             0.99).p_value is None


def test_two_sample_false_alarm_rate_and_power() -> None:
    """A/A at level 1%: about 1% reject (2,000 trials, SE 0.22%). A +20% shift at n = 3,000 per
    side (lognormal sigma 0.5): detected in most trials, and the printed resolution says so."""
    rng = np.random.default_rng(7)
    alarms = 0
    for _ in range(2000):
        d = compare_quantiles(_lognormal(rng, 3000), _lognormal(rng, 3000), 0.99)
        alarms += d.p_value is not None and d.p_value < 0.01
    assert alarms / 2000 <= 0.02
    hits, resolutions = 0, []
    for _ in range(300):
        d = compare_quantiles(_lognormal(rng, 3000), _lognormal(rng, 3000, scale=1.2), 0.99)
        assert d.p_value is not None
        hits += d.p_value < 0.01
        resolutions.append(d.resolution(0.01))
        assert d.low is not None and d.high is not None and d.low < d.ratio < d.high
    # the resolution is the shift detected with 95% power: where it is at or below +20%,
    # (nearly) every trial detects +20%, and the two must agree
    median_res = float(np.median([r for r in resolutions if r is not None]))
    assert (hits / 300 >= 0.85) == (median_res <= 0.22)


def test_the_ratio_interval_covers_the_true_ratio() -> None:
    rng = np.random.default_rng(11)
    covered = sum(
        (d := compare_quantiles(_lognormal(rng, 2000), _lognormal(rng, 2000, scale=1.1), 0.99)).low is not None
        and d.low <= 1.1 <= (d.high or 0)
        for _ in range(500))
    assert covered / 500 >= 0.92  # 95% nominal; SE 1%


def test_holm_controls_the_family_wise_rate_and_is_at_least_bonferroni() -> None:
    rng = np.random.default_rng(5)
    any_alarm = 0
    for _ in range(5000):
        ps = rng.uniform(size=10)  # ten true nulls
        any_alarm += any(holm(list(ps), 0.05))
    assert any_alarm / 5000 <= 0.06  # <= alpha (SE 0.3%)
    ps = [0.001, 0.011, 0.02, 0.04, 0.2]
    assert holm(ps, 0.05) == [True, True, False, False, False]  # 0.001<=0.01, 0.011<=0.0125, 0.02>0.0167
    bonferroni = [p <= 0.05 / len(ps) for p in ps]
    assert all(h or not b for h, b in zip(holm(ps, 0.05), bonferroni, strict=True))
    assert holm_adjusted([0.04, 0.01]) == [0.04, 0.02]


def test_holm_without_correction_would_fail_the_family_rate() -> None:
    """The check can fail: testing each of 10 nulls at 5% alarms in ~40% of families."""
    rng = np.random.default_rng(6)
    raw = sum(any(p <= 0.05 for p in rng.uniform(size=10)) for _ in range(2000)) / 2000
    assert raw > 0.3


def test_resolution_grows_with_noise_and_tolerance() -> None:
    assert resolution(0.05, 0.01) == pytest.approx(math.exp((sps.norm.ppf(0.99) + sps.norm.ppf(0.95)) * 0.05) - 1)
    assert resolution(0.10, 0.01) > resolution(0.05, 0.01)
    assert resolution(0.05, 0.01, tolerance=0.05) > resolution(0.05, 0.01)


def test_prediction_bound_from_runs() -> None:
    spread = prediction_bound([100.0, 110.0, 90.0], 0.975)
    logs = np.log([100.0, 110.0, 90.0])
    expected = math.exp(logs.mean() + sps.t.ppf(0.975, 2) * logs.std(ddof=1) * math.sqrt(1 + 1 / 3))
    assert spread.bound == pytest.approx(expected)
    assert spread.resolution > 0.2  # three runs cannot resolve +20% at this spread
    with pytest.raises(ValueError, match="at least 3 runs"):
        prediction_bound([1.0, 2.0])
    # a new run of the same build stays under the bound at about the stated rate
    rng = np.random.default_rng(9)
    inside = 0
    for _ in range(2000):
        runs = np.exp(rng.normal(0, 0.1, 6))
        inside += np.exp(rng.normal(0, 0.1)) <= prediction_bound(list(runs), 0.95).bound
    assert 0.93 <= inside / 2000 <= 0.97
