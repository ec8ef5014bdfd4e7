"""FaultSet on an injected clock: matching, first-error-wins, expiry, rate, fail_first."""

from __future__ import annotations

from ragchaos.provider.faults import FAULT_KINDS, FaultSet, FaultSpec


class Clock:
    now = 50.0

    def __call__(self) -> float:
        return self.now


def spec(**kw: object) -> FaultSpec:
    return FaultSpec.model_validate(kw)


def test_every_contract_kind_is_registered() -> None:
    assert set(FAULT_KINDS) == {"error", "rate_limit", "insufficient_quota", "fail_first", "slow", "hang",
                                "stream_cut", "malformed"}


def test_matching_and_first_error_wins() -> None:
    faults = FaultSet()
    faults.add(spec(kind="error", status=502, endpoint="chat"))
    faults.add(spec(kind="rate_limit", key="naive"))
    faults.add(spec(kind="slow", factor=3))
    faults.add(spec(kind="slow", factor=2, key="naive"))
    e = faults.effect("chat", "naive", "m")
    assert e.error is not None and e.error.status == 502 and e.slow_factor == 6
    e = faults.effect("embeddings", "naive", "m")
    assert e.error is not None and e.error.status == 429
    e = faults.effect("embeddings", "reference", "m")
    assert e.error is None and e.slow_factor == 3 and len(e.injected) == 1


def test_expiry_on_the_clock() -> None:
    clock = Clock()
    faults = FaultSet(clock=clock)
    faults.add(spec(kind="error", duration_s=2))
    assert faults.effect("chat", "k", "m").error is not None
    clock.now += 2.0
    assert faults.effect("chat", "k", "m").error is None
    assert faults.listing() == []


def test_fail_first_counts_only_its_failures() -> None:
    faults = FaultSet()
    faults.add(spec(id="ff", kind="fail_first", n=2, status=503))
    statuses = [e.error.status if e.error else 200 for e in (faults.effect("chat", "k", "m") for _ in range(4))]
    assert statuses == [503, 503, 200, 200]
    assert faults.listing()[0]["hits"] == 2 and faults.listing()[0]["remaining"] == 0


def test_rate_roll_is_seeded() -> None:
    def run() -> list[bool]:
        faults = FaultSet(seed=7)
        faults.add(spec(kind="error", rate=0.5))
        return [faults.effect("chat", "k", "m").error is not None for _ in range(100)]

    first = run()
    assert first == run() and 30 <= sum(first) <= 70


def test_removing_a_hang_releases_its_requests() -> None:
    faults = FaultSet()
    fault_id = faults.add(spec(kind="hang"))
    e = faults.effect("chat", "k", "m")
    assert e.hanging and e.hang_s is None and e.hang_release is not None and not e.hang_release.is_set()
    faults.remove(fault_id)
    assert e.hang_release.is_set()


def test_ids_are_unique_and_a_named_fault_is_replaced() -> None:
    faults = FaultSet()
    a, b = faults.add(spec(kind="slow")), faults.add(spec(kind="slow"))
    assert a != b
    faults.add(spec(id="x", kind="slow", factor=2))
    faults.add(spec(id="x", kind="slow", factor=5))
    assert [f["factor"] for f in faults.listing() if f["id"] == "x"] == [5]
