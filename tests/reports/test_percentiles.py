"""HDR percentiles against exact ones, through the same path the reports use."""

from __future__ import annotations

import random

import pytest

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.recorder import Recorder
from ragchaos.reports.results import Summary


def exact(values: list[int], p: float) -> int:
    ordered = sorted(values)
    rank = max(1, int(round(p / 100 * len(ordered) + 0.5 - 1e-9)))  # nearest rank
    return ordered[min(rank, len(ordered)) - 1]


@pytest.mark.parametrize("dist", ["lognormal", "uniform", "bimodal"])
def test_recorder_percentiles_within_a_tenth_of_a_percent(dist: str) -> None:
    rng = random.Random(11)
    if dist == "lognormal":
        values = [int(rng.lognormvariate(11, 1.0)) + 1 for _ in range(40_000)]
    elif dist == "uniform":
        values = [rng.randint(1_000, 5_000_000) for _ in range(40_000)]
    else:
        values = [rng.randint(2_000, 4_000) if rng.random() < 0.97 else rng.randint(900_000, 1_500_000)
                  for _ in range(40_000)]
    rec = Recorder()
    for v in values:
        # service time = end - actual_start, given in seconds like a real caller does
        rec.record("app", "query", "steady", intended_start=None, actual_start=100.0, end=100.0 + v / 1e6,
                   outcome="ok")
    s = rec.client_stats("app", "steady").latency.service_time
    got = {50: s.p50_us, 90: s.p90_us, 99: s.p99_us, 99.9: s.p999_us}
    for p, value in got.items():
        want = exact(values, p)
        assert abs(value - want) / want <= 0.001, (p, value, want)
    assert s.max_us == pytest.approx(max(values), rel=0.001)
    assert s.count == len(values)


def test_numpy_percentiles_and_mean_equal_hdrh() -> None:
    rng = random.Random(5)
    for sf in (2, 3):
        h = Histogram(significant_figures=sf)
        for _ in range(20_000):
            h.record_us(int(rng.paretovariate(1.2) * 1000))
        ps = [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0]
        assert h.percentiles_us(ps) == {p: int(h.raw.get_value_at_percentile(p)) for p in ps}
        assert h.mean_us == pytest.approx(h.raw.get_mean_value(), rel=1e-9)


def test_summary_roundtrip_recomputes_every_figure() -> None:
    h = Histogram()
    for v in range(1, 10_001):
        h.record_us(v * 10)
    s = Summary.of(h)
    back = Summary.model_validate_json(s.model_dump_json())
    assert back.histogram().percentiles_us([50.0, 99.0]) == {50.0: s.p50_us, 99.0: s.p99_us}
    assert back.percentile_us(99.99) == h.percentile_us(99.99)


def test_count_at_or_below_counts_whole_buckets() -> None:
    h = Histogram()
    for v in (100, 200, 300, 2_000_000):
        h.record_us(v)
    assert h.count_at_or_below_us(300) == 3
    assert h.count_at_or_below_us(99) == 0
    assert h.count_at_or_below_us(10_000_000) == 4


def test_record_many_equals_one_by_one_including_clamps() -> None:
    from ragchaos.measure.hdr import HIGHEST_US

    rng = random.Random(8)
    values = [rng.lognormvariate(9, 3) for _ in range(30_000)] + [0, -3, 0.5, 1, HIGHEST_US, HIGHEST_US * 3]
    for sf in (2, 3):
        one, many = Histogram(significant_figures=sf), Histogram(significant_figures=sf)
        for v in values:
            one.record_us(v)
        many.record_many_us(values)
        assert many.encode() == one.encode()
        assert (many.count, many.clamped, many.min_us, many.max_us) == (one.count, one.clamped, one.min_us, one.max_us)
        again = Histogram.decode(one.encode())  # a decoded histogram keeps recording correctly
        again.record_many_us(values[:100])
        one.record_many_us(values[:100])
        assert again.encode() == one.encode()
