import random

import pytest

from ragchaos.measure.hdr import HIGHEST_US, Histogram
from ragchaos.measure.stages import StageRecorder


def exact_percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    rank = max(1, int(round(p / 100 * len(ordered) + 0.5 - 1e-9)))  # nearest-rank
    return ordered[min(rank, len(ordered)) - 1]


@pytest.mark.parametrize("p", [50.0, 90.0, 99.0, 99.9])
def test_percentiles_within_a_tenth_of_a_percent(p: float) -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(10, 1.2)) + 1 for _ in range(50_000)]
    h = Histogram()
    for v in values:
        h.record_us(v)
    exact = exact_percentile(values, p)
    assert abs(h.percentile_us(p) - exact) / exact <= 0.001


def test_out_of_range_values_are_clamped_and_counted() -> None:
    h = Histogram()
    h.record_us(0)
    h.record_us(-5)
    h.record_us(HIGHEST_US * 10)
    h.record_us(100)
    assert h.count == 4
    assert h.clamped == 3
    assert h.max_us >= HIGHEST_US


def test_split_and_merged_equals_whole() -> None:
    rng = random.Random(3)
    values = [rng.randint(1, 5_000_000) for _ in range(20_000)]
    whole = Histogram()
    parts = [Histogram() for _ in range(4)]
    for i, v in enumerate(values):
        whole.record_us(v)
        parts[i % 4].record_us(v)
    merged = Histogram()
    for part in parts:
        merged.add(Histogram.decode(part.encode()))
    assert merged.count == whole.count
    for p in (50, 90, 99, 99.9, 100):
        assert merged.percentile_us(p) == whole.percentile_us(p)


def test_stage_recorder_times_with_injected_clock_and_roundtrips() -> None:
    now = [100.0]
    rec = StageRecorder(clock=lambda: now[0], strict=True)
    with rec.time("query.embed"):
        now[0] += 0.25
    with pytest.raises(RuntimeError), rec.time("query.generate"):
        now[0] += 1.5
        raise RuntimeError("boom")
    decoded = StageRecorder.decode_export(rec.export())
    assert decoded["query.embed"].percentile_us(50) == pytest.approx(250_000, rel=0.001)
    assert decoded["query.generate"].count == 1
    with pytest.raises(ValueError):
        rec.record_us("query.unknown", 5)
    rec.reset()
    assert rec.export()["stages"] == {}
