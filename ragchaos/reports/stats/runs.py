"""Run-to-run variability: a stored baseline of N >= 3 runs, and the bound a new run may reach.

A p99 from one run varies from run to run more than its within-run interval says (the machine,
the order of requests, queueing bursts). With N earlier runs' values x_1..x_N (log scale,
mean m, standard deviation s), a new run from the same build falls below
m + t_{N-1, confidence} s sqrt(1 + 1/N) with probability ``confidence`` (a one-sided Student t
prediction interval). With N = 3 the multiplier is large (t_2 at 99% is 6.96): a 3-run
baseline resolves only large changes, and the gate prints how large.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

__all__ = ["MIN_RUNS", "RunSpread", "prediction_bound"]

MIN_RUNS = 3


@dataclass(frozen=True)
class RunSpread:
    runs: int
    center: float  # geometric mean of the runs' values
    log_sd: float  # run-to-run standard deviation of ln(value)
    bound: float  # the largest value a new run of the same build may show
    confidence: float

    @property
    def resolution(self) -> float:
        """The smallest relative increase over the center that this baseline flags."""
        return self.bound / self.center - 1.0


def prediction_bound(values: Sequence[float], confidence: float = 0.99) -> RunSpread:
    """The one-sided upper prediction bound for one new run, on the log scale."""
    if len(values) < MIN_RUNS:
        raise ValueError(f"a run-to-run bound needs at least {MIN_RUNS} runs, got {len(values)}")
    if any(v <= 0 for v in values):
        raise ValueError("values must be positive")
    logs = [math.log(v) for v in values]
    n = len(logs)
    mean, sd = statistics.fmean(logs), statistics.stdev(logs)
    t = float(stats.t.ppf(confidence, n - 1))
    return RunSpread(n, math.exp(mean), sd, math.exp(mean + t * sd * math.sqrt(1.0 + 1.0 / n)), confidence)
