"""The open model's arrival schedule and dispatcher, on an injected clock (no real waiting)."""

from __future__ import annotations

import random
import statistics

from ragchaos.scenarios.loads import ArrivalLoad
from ragchaos.scenarios.schedule import Arrival, Dispatcher, arrival_times


def load(kind: str, *stages: dict) -> ArrivalLoad:
    return ArrivalLoad.model_validate({"kind": "arrivals", "arrivals": kind, "stages": list(stages)})


def test_constant_arrivals_are_evenly_spaced() -> None:
    times = arrival_times(load("constant", {"duration": 10, "rate": 5}), random.Random(1))
    assert len(times) == 50
    gaps = {round(b - a, 9) for a, b in zip(times, times[1:], strict=False)}
    assert gaps == {0.2} and times[0] == 0.1


def test_constant_stages_change_rate_at_the_boundary() -> None:
    times = arrival_times(load("constant", {"duration": 10, "rate": 2}, {"duration": 10, "rate": 6}),
                          random.Random(1))
    assert sum(t < 10 for t in times) == 20 and sum(t >= 10 for t in times) == 60


def test_a_ramp_grows_linearly() -> None:
    times = arrival_times(load("constant", {"duration": 10, "rate": 0}, {"duration": 10, "rate": 10, "ramp": True}),
                          random.Random(1))
    assert not [t for t in times if t < 10]
    assert len(times) == 50  # the ramp's mean rate is 5/s over 10 s
    # expected count before 10 + x is x^2/2 = 12.5 at x = 5; constant arrivals sit at k + 1/2
    assert sum(t < 15 for t in times) == 12


def test_poisson_arrivals_are_seeded_and_exponential() -> None:
    spec = load("poisson", {"duration": 1000, "rate": 20})
    a = arrival_times(spec, random.Random("s:arrivals"))
    b = arrival_times(spec, random.Random("s:arrivals"))
    assert a == b
    c = arrival_times(spec, random.Random("t:arrivals"))
    assert a != c
    # 20,000 expected; a Poisson count has sd ~141, so 6 sd either side never fails by luck
    assert abs(len(a) - 20000) < 850
    gaps = [y - x for x, y in zip(a, a[1:], strict=False)]
    assert abs(statistics.mean(gaps) - 0.05) < 0.002
    assert abs(statistics.pstdev(gaps) - 0.05) < 0.003  # exponential: sd equals the mean
    assert all(g >= 0 for g in gaps)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_dispatcher_sends_on_time_with_the_intended_time() -> None:
    clock = FakeClock()
    sent: list[tuple[int, float, float]] = []
    arrivals = [Arrival(t, i) for i, t in enumerate([0.1, 0.3, 0.5])]
    d = Dispatcher(arrivals, lambda a, intended, now: sent.append((a.index, intended, now)), clock=clock,
                   sleep=clock.sleep, max_in_flight=10)
    stats = d.run(clock())
    assert [(i, round(it - 1000, 6)) for i, it, _ in sent] == [(0, 0.1), (1, 0.3), (2, 0.5)]
    assert all(it == now for _, it, now in sent)
    assert stats.sent == 3 and stats.late == 0 and stats.dropped == 0


def test_dispatcher_counts_late_sends_but_keeps_the_intended_time() -> None:
    clock = FakeClock()
    sent = []

    def slow_send(a: Arrival, intended: float, now: float) -> None:
        sent.append((intended, now))
        clock.now += 0.5  # the sender stalls the loop (a busy event loop)

    arrivals = [Arrival(t, i) for i, t in enumerate([0.0, 0.1, 0.2, 2.0])]
    d = Dispatcher(arrivals, slow_send, clock=clock, sleep=clock.sleep, max_in_flight=10, late_after_s=0.05)
    stats = d.run(clock())
    assert stats.late == 2  # the 2nd and 3rd were sent 0.4 s and 0.8 s late
    assert round(stats.max_lag_s, 6) == 0.8
    assert [round(i - 1000, 6) for i, _ in sent] == [0.0, 0.1, 0.2, 2.0]  # intended times untouched


def test_dispatcher_drops_beyond_max_in_flight() -> None:
    clock = FakeClock()
    dropped = []
    arrivals = [Arrival(i * 0.1, i) for i in range(10)]
    d = Dispatcher(arrivals, lambda a, i, n: None, clock=clock, sleep=clock.sleep, max_in_flight=3,
                   on_drop=lambda a, intended: dropped.append(a.index))
    stats = d.run(clock())
    assert stats.sent == 3 and stats.dropped == 7 and dropped == list(range(3, 10))
    d2 = Dispatcher(arrivals, lambda a, i, n: d2.finished(), clock=clock, sleep=clock.sleep, max_in_flight=1)
    assert d2.run(clock()).dropped == 0  # each request done before the next: never over the limit


def test_arrivals_still_due_when_the_dispatcher_is_stopped_are_dropped_not_lost() -> None:
    from ragchaos.scenarios.schedule import Arrival, Dispatcher

    now = [100.0]
    dropped: list[float] = []
    sent: list[int] = []
    plan = [Arrival(t, i) for i, t in enumerate([0.0, 0.1, 0.2, 0.3, 5.0])]
    d: Dispatcher

    def send(arrival: Arrival, intended: float, at: float) -> None:
        sent.append(arrival.index)
        if arrival.index == 0:  # the generator stalls: 0.25 s pass, then the run stops it
            now[0] += 0.25
            d.stop()

    d = Dispatcher(plan, send, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
                   max_in_flight=10, on_drop=lambda a, intended: dropped.append(intended))
    stats = d.run(100.0)
    # 0.1 and 0.2 were due by the stop (t = 0.25) and never sent; 0.3 and 5.0 were not yet due
    assert sent == [0] and stats.dropped == 2 and dropped == [100.1, 100.2]
