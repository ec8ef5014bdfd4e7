"""A facade over HdrHistogram_py that never drops a value silently.

Values are integer microseconds from 1 us to 10 min at 3 significant figures. A value out of
range is clamped to the nearest bound and counted in ``clamped``, so a report can say how many
samples were pinned (``hdrh``'s own ``record_value`` returns False and forgets them).
"""

from __future__ import annotations

import threading

import numpy as np
from hdrh.histogram import HdrHistogram

__all__ = ["LOWEST_US", "HIGHEST_US", "SIGNIFICANT_FIGURES", "Histogram"]

LOWEST_US = 1
HIGHEST_US = 600_000_000  # 10 minutes
SIGNIFICANT_FIGURES = 3


_TABLES: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_TABLES_LOCK = threading.Lock()


def _tables(h: HdrHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per counts-index lowest, highest and median equivalent values, built once per layout.

    hdrh answers percentiles and the mean with Python loops over all ~21k counters (0.2 s for a
    mean); with these tables numpy does the same arithmetic, with identical results.
    """
    key = (h.counts_len, h.sub_bucket_half_count_magnitude, h.unit_magnitude)
    tables = _TABLES.get(key)
    if tables is None:
        with _TABLES_LOCK:
            lows = [h.get_value_from_index(i) for i in range(h.counts_len)]
            low = np.array([h.get_lowest_equivalent_value(v) for v in lows], dtype=np.float64)
            high = np.array([h.get_highest_equivalent_value(v) for v in lows], dtype=np.float64)
            median = np.array([h._hdr_median_equiv_value(v) for v in lows], dtype=np.float64)
            tables = _TABLES[key] = (low, high, median)
    return tables


class Histogram:
    """Latency histogram in microseconds; merge with ``add``, ship with ``encode``."""

    __slots__ = ("_h", "clamped")

    def __init__(self, _h: HdrHistogram | None = None, *, significant_figures: int = SIGNIFICANT_FIGURES) -> None:
        # significant_figures=2 is for the many small per-second timeline histograms (~24 KiB
        # each instead of ~168 KiB); every per-phase figure stays at 3
        self._h = _h or HdrHistogram(LOWEST_US, HIGHEST_US, significant_figures)
        self.clamped = 0

    def record_us(self, value_us: float, count: int = 1) -> None:
        v = int(value_us)
        if v < LOWEST_US or v > HIGHEST_US:
            self.clamped += count
            v = min(max(v, LOWEST_US), HIGHEST_US)
        self._h.record_value(v, count)

    def record_many_us(self, values: np.ndarray | list[float]) -> None:
        """Record many values at once (numpy): the same counts as ``record_us`` one by one,
        including clamping, at a small fraction of the cost per value."""
        v = np.trunc(np.asarray(values, dtype=np.float64))  # int() truncates toward zero too
        if v.size == 0:
            return
        outside = (v < LOWEST_US) | (v > HIGHEST_US)
        self.clamped += int(outside.sum())
        iv = np.clip(v, LOWEST_US, HIGHEST_US).astype(np.int64)
        h = self._h
        # hdrh's _counts_index_for, vectorised: bit_length via frexp (exact below 2**53)
        bit_length = np.frexp((iv | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
        bucket = bit_length - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub_bucket = iv >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + (sub_bucket - h.sub_bucket_half_count)
        counts = np.ctypeslib.as_array(h.counts)
        np.add.at(counts, index, 1)
        h.total_count += int(v.size)
        h.min_value = min(h.min_value, int(iv.min()))
        h.max_value = max(h.max_value, int(iv.max()))

    def record_corrected_us(self, value_us: float, expected_interval_us: float) -> None:
        """Record with HdrHistogram's coordinated-omission backfill (closed-loop workers)."""
        v = int(value_us)
        if v < LOWEST_US or v > HIGHEST_US:
            self.clamped += 1
            v = min(max(v, LOWEST_US), HIGHEST_US)
        self._h.record_corrected_value(v, int(expected_interval_us))

    def add(self, other: Histogram) -> Histogram:
        self._h.add(other._h)
        self.clamped += other.clamped
        return self

    @property
    def count(self) -> int:
        return int(self._h.get_total_count())

    def _counts(self) -> np.ndarray:
        return np.ctypeslib.as_array(self._h.counts).astype(np.int64, copy=False)

    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        """The non-empty buckets: each one's highest equivalent value (what a percentile
        reports) and its count, in increasing order (the statistics work on these)."""
        counts = self._counts()
        nonzero = np.nonzero(counts)[0]
        _, high, _ = _tables(self._h)
        return high[nonzero].copy(), counts[nonzero].copy()

    def percentile_us(self, p: float) -> int:
        """Value at percentile ``p`` (0-100); 0 for an empty histogram (hdrh's semantics: the
        highest equivalent value of the bucket, the lowest for p = 0)."""
        return self.percentiles_us([p])[p]

    def percentiles_us(self, ps: list[float]) -> dict[float, int]:
        if self.count == 0:
            return {p: 0 for p in ps}
        low, high, _ = _tables(self._h)
        cumulative = np.cumsum(self._counts())
        out = {}
        for p in ps:
            target = self._h.get_target_count_at_percentile(p)
            idx = int(np.searchsorted(cumulative, target, side="left"))
            idx = min(idx, len(cumulative) - 1)
            out[p] = int(high[idx] if p else low[idx])
        return out

    @property
    def max_us(self) -> int:
        return int(self._h.get_max_value()) if self.count else 0

    @property
    def min_us(self) -> int:
        return int(self._h.get_min_value()) if self.count else 0

    @property
    def mean_us(self) -> float:
        if not self.count:
            return 0.0
        _, _, median = _tables(self._h)
        return float(np.dot(self._counts().astype(np.float64), median) / self.count)

    def count_at_or_below_us(self, value_us: float) -> int:
        """How many recorded values are <= ``value_us`` (to bucket precision): goodput within an SLO."""
        if not self.count:
            return 0
        low, _, _ = _tables(self._h)
        # a bucket counts when it holds the SLO value itself (lowest equivalent <= value)
        return int(self._counts()[low <= value_us].sum())

    def spectrum(self, ticks_per_half_distance: int = 5) -> list[tuple[float, int]]:
        """(percentile 0-100, value us) pairs of the percentile spectrum, for plots and .hgrm."""
        if self.count == 0:
            return []
        return [
            (float(item.percentile_level_iterated_to), int(item.value_iterated_to))
            for item in self._h.get_percentile_iterator(ticks_per_half_distance)
        ]

    def copy(self) -> Histogram:
        """An independent histogram with the same precision and contents."""
        out = Histogram(significant_figures=self._h.significant_figures)
        return out.add(self)

    @property
    def memory_bytes(self) -> int:
        """Size of the counts array, the part that grows with range and precision."""
        return int(self._h.counts_len * self._h.word_size)

    def reset(self) -> None:
        self._h.reset()
        self.clamped = 0

    def encode(self) -> str:
        """The standard compressed base64 form ("HISTFAAA..."), readable by every HdrHistogram."""
        return self._h.encode().decode("ascii")

    @classmethod
    def decode(cls, blob: str | bytes) -> Histogram:
        raw = blob.encode("ascii") if isinstance(blob, str) else blob
        return cls(HdrHistogram.decode(raw))

    @property
    def raw(self) -> HdrHistogram:
        """The underlying ``HdrHistogram`` for iterators and the log writer."""
        return self._h
