"""``Sample``: a latency distribution as sorted (value, count) buckets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ragchaos.measure.hdr import Histogram

__all__ = ["Sample"]


@dataclass(frozen=True)
class Sample:
    """Non-empty buckets sorted by value; ``values`` are each bucket's highest equivalent value
    (the value HdrHistogram reports for a percentile), ``counts`` how many samples it holds."""

    values: np.ndarray  # float64, strictly increasing
    counts: np.ndarray  # int64, > 0

    @classmethod
    def of(cls, hist: Histogram) -> Sample:
        values, counts = hist.buckets()
        return cls(values.astype(np.float64), counts.astype(np.int64))

    @classmethod
    def from_values(cls, values: np.ndarray | list[float]) -> Sample:
        """Raw samples (tests and simulations): each distinct value is a bucket."""
        uniq, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
        return cls(uniq, counts.astype(np.int64))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def order_statistic(self, rank: int) -> float:
        """The ``rank``-th smallest sample (1-based)."""
        if not 1 <= rank <= self.n:
            raise ValueError(f"rank {rank} outside 1..{self.n}")
        idx = int(np.searchsorted(np.cumsum(self.counts), rank, side="left"))
        return float(self.values[idx])

    def quantile(self, p: float) -> float:
        """The sample p-quantile (0 < p < 1): the order statistic of rank ceil(p n)."""
        return self.order_statistic(max(1, int(np.ceil(p * self.n - 1e-9))))

    def scaled(self, factor: float) -> Sample:
        """Every value times ``factor`` (a simulated slowdown)."""
        return Sample(self.values * factor, self.counts)

    def resample(self, rng: np.random.Generator, n: int | None = None) -> Sample:
        """``n`` draws with replacement (default: as many as recorded), as a multinomial over
        the buckets: the histogram form of the bootstrap."""
        n = self.n if n is None else n
        counts = rng.multinomial(n, self.counts / self.counts.sum())
        keep = counts > 0
        return Sample(self.values[keep], counts[keep].astype(np.int64))
