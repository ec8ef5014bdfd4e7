"""Phase labelling from stage labels and the faults' recorded apply/revert times."""

from __future__ import annotations

from ragchaos.scenarios.phases import PhaseClock, phase_kind


def spans(clock: PhaseClock, end: float) -> list[tuple[str, str, float, float]]:
    return [(p.name, p.kind, p.start_s, p.end_s) for p in clock.phases(end)]


def test_steady_fault_recovery_from_recorded_times() -> None:
    clock = PhaseClock([(0.0, 60.0, None)], warmup_s=5.0)
    # planned at 20 s, but the timeline recorded 20.4 s: the recorded time wins
    clock.applied("latency@naive", 20.4)
    clock.reverted("latency@naive", 35.2)
    assert spans(clock, 60.0) == [
        ("warmup", "warmup", 0.0, 5.0),
        ("steady", "steady", 5.0, 20.4),
        ("fault", "fault", 20.4, 35.2),
        ("recovery", "recovery", 35.2, 60.0),
    ]
    assert clock.at(20.3) == "steady" and clock.at(20.4) == "fault" and clock.at(35.2) == "recovery"


def test_overlapping_faults_make_one_fault_period() -> None:
    clock = PhaseClock([(0.0, 100.0, None)])
    clock.applied("a", 10.0)
    clock.applied("b", 15.0)
    clock.reverted("a", 20.0)
    assert clock.at(25.0) == "fault"  # b is still applied
    clock.reverted("b", 30.0)
    clock.applied("c", 50.0)
    clock.reverted("c", 60.0)
    assert [s[0] for s in spans(clock, 100.0)] == ["steady", "fault", "recovery", "fault-2", "recovery-2"]
    assert spans(clock, 100.0)[1][2:] == (10.0, 30.0)
    assert phase_kind("fault-2") == "fault" and phase_kind("recovery-2") == "recovery"


def test_a_fault_still_applied_at_the_end_runs_to_the_end() -> None:
    clock = PhaseClock([(0.0, 30.0, None)])
    clock.applied("down@reference", 12.0)
    assert spans(clock, 30.0) == [("steady", "steady", 0.0, 12.0), ("fault", "fault", 12.0, 30.0)]


def test_stage_labels_win_over_fault_windows() -> None:
    clock = PhaseClock([(0.0, 40.0, "steady"), (40.0, 75.0, "spike"), (75.0, 100.0, "recovery")], warmup_s=8.0)
    clock.applied("jitter@naive", 43.0)
    clock.reverted("jitter@naive", 74.0)
    assert spans(clock, 100.0) == [
        ("warmup", "warmup", 0.0, 8.0),
        ("steady", "steady", 8.0, 40.0),
        ("spike", "spike", 40.0, 75.0),
        ("recovery", "recovery", 75.0, 100.0),
    ]


def test_revert_of_an_unknown_fault_changes_nothing() -> None:
    clock = PhaseClock([(0.0, 10.0, None)])
    clock.reverted("never-applied", 3.0)
    assert spans(clock, 10.0) == [("steady", "steady", 0.0, 10.0)]


def test_a_fault_handing_over_to_the_next_is_one_period() -> None:
    clock = PhaseClock([(0.0, 60.0, None)], merge_gap_s=1.0)
    clock.applied("latency", 15.0)
    clock.reverted("latency", 27.001)
    clock.applied("timeouts", 27.004)  # the next step, 3 ms later
    clock.reverted("timeouts", 37.0)
    assert spans(clock, 60.0) == [
        ("steady", "steady", 0.0, 15.0),
        ("fault", "fault", 15.0, 37.0),
        ("recovery", "recovery", 37.0, 60.0),
    ]
