"""A facade over HdrHistogram_py that never drops a value silently.

Values are integer microseconds from 1 us to 10 min at 3 significant figures. A value out of
range is clamped to the nearest bound and counted in ``clamped``, so a report can say how many
samples were pinned (``hdrh``'s own ``record_value`` returns False and forgets them).
"""

from __future__ import annotations

from hdrh.histogram import HdrHistogram

__all__ = ["LOWEST_US", "HIGHEST_US", "SIGNIFICANT_FIGURES", "Histogram"]

LOWEST_US = 1
HIGHEST_US = 600_000_000  # 10 minutes
SIGNIFICANT_FIGURES = 3


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

    def percentile_us(self, p: float) -> int:
        """Value at percentile ``p`` (0-100); 0 for an empty histogram."""
        if self.count == 0:
            return 0
        return int(self._h.get_value_at_percentile(p))

    def percentiles_us(self, ps: list[float]) -> dict[float, int]:
        if self.count == 0:
            return {p: 0 for p in ps}
        return {p: int(v) for p, v in self._h.get_percentile_to_value_dict(ps).items()}

    @property
    def max_us(self) -> int:
        return int(self._h.get_max_value()) if self.count else 0

    @property
    def min_us(self) -> int:
        return int(self._h.get_min_value()) if self.count else 0

    @property
    def mean_us(self) -> float:
        return float(self._h.get_mean_value()) if self.count else 0.0

    def count_at_or_below_us(self, value_us: float) -> int:
        """How many recorded values are <= ``value_us`` (to bucket precision): goodput within an SLO."""
        total = 0
        for item in self._h.get_recorded_iterator():
            # a bucket counts when it holds the SLO value itself (lowest equivalent <= value)
            if self._h.get_lowest_equivalent_value(item.value_iterated_to) > value_us:
                break
            total += item.count_at_value_iterated_to
        return total

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
