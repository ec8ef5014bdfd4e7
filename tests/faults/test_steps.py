"""Fault step models: YAML shapes, durations, validation (all errors at once) and the pure plan."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from ragchaos.faults.kinds import PROVIDER_KINDS, LatencyFault, RateLimitFault
from ragchaos.faults.step import FaultStep
from ragchaos.faults.units import parse_duration

STEPS_YAML = """
- name: provider-rpm-storm
  at: 30s
  duration: 20s
  app: both
  dependency: provider
  fault: {kind: rate_limit, rate: 0.5, retry_after_s: 1}
- at: 1m30s
  app: naive
  dependency: vectordb
  fault: {kind: latency, latency_ms: 300, jitter_ms: 50, stream: both, toxicity: 0.5}
- at: 500ms
  duration: 2
  app: [reference]
  dependency: vectordb
  fault: {kind: down}
"""


def load(text: str = STEPS_YAML) -> list[FaultStep]:
    return [FaultStep.model_validate(raw) for raw in yaml.safe_load(text)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("1m30s", 90.0), ("500ms", 0.5), (12, 12.0), (1.5, 1.5), ("2", 2.0), ("1h", 3600.0),
     ("1m 5s", 65.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["-1s", "soon", "5 parsecs", True, None, "1x", -3, "s"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_yaml_steps_load_into_the_union():
    storm, lat, down = load()
    assert isinstance(storm.fault, RateLimitFault) and storm.at == 30 and storm.duration == 20
    assert isinstance(lat.fault, LatencyFault) and lat.at == 90 and lat.duration is None
    assert down.fault.kind == "down" and down.at == 0.5
    assert [s.validate(["naive", "reference"], 300) for s in load()] == [[], [], []]


def test_targets_expand_both():
    storm, lat, down = load()
    assert storm.targets(["naive", "reference"]) == ["naive", "reference"]
    assert lat.targets(["naive", "reference"]) == ["naive"]
    assert down.targets(["naive", "reference"]) == ["reference"]
    assert storm.targets(["naive", "reference", "mine"]) == ["naive", "reference", "mine"]


def test_plan_is_pure_and_clipped_to_the_run():
    storm, lat, down = load()
    plan = storm.plan(["naive", "reference"], run_duration_s=40)
    assert [(p.target, p.apply_at_s, p.revert_at_s) for p in plan] == [("naive", 30, 40), ("reference", 30, 40)]
    assert lat.plan(["naive", "reference"])[0].revert_at_s is None
    assert "rate_limit" in plan[0].describe() and "30s" in plan[0].describe()
    assert "latency" in lat.describe() and "50%" in lat.fault.describe()


def test_network_toxics_from_a_step():
    lat = load()[1]
    specs = lat.fault.toxics()
    assert [(s.type, s.stream, s.toxicity) for s in specs] == [("latency", "upstream", 0.5),
                                                              ("latency", "downstream", 0.5)]
    assert specs[0].attributes == {"latency": 300, "jitter": 50}


def test_provider_fault_json_matches_the_contract():
    storm = load()[0]
    body = storm.fault.to_json(key="naive", fault_id="x", expires_after_s=50)
    assert body == {"id": "x", "kind": "rate_limit", "endpoint": "*", "key": "naive", "rate": 0.5,
                    "duration_s": 50, "retry_after_s": 1.0}


@pytest.mark.parametrize("cls", PROVIDER_KINDS)
def test_provider_kinds_need_the_provider_dependency(cls):
    step = FaultStep(at=1, dependency="vectordb", fault=cls())
    problems = step.validate()
    assert len(problems) == 1 and "must address role (or dependency) 'provider'" in problems[0]
    assert FaultStep(at=1, dependency="provider", fault=cls()).validate() == []
    assert FaultStep(at=1, role="provider", fault=cls()).validate() == []


def test_a_step_addresses_a_dependency_by_name_or_by_role():
    latency = {"kind": "latency", "latency_ms": 100}
    by_role = FaultStep.model_validate({"at": 1, "role": "vector_store", "fault": latency})
    # without a resolver, our apps' names; with one, each target's own
    assert [p.dependency for p in by_role.plan(["naive"])] == ["vectordb"]
    named = {"myrag": "chroma_main", "other": None}
    plans = by_role.plan(["myrag", "other"], resolve=lambda app, step: named[app])
    assert [(p.target, p.dependency) for p in plans] == [("myrag", "chroma_main")]  # "other" has none
    for bad in ({"role": "vectordb"}, {"role": "cache", "dependency": "redis"}, {}):
        with pytest.raises(ValidationError):
            FaultStep.model_validate({"at": 1, "fault": latency, **bad})


def test_validate_collects_every_problem():
    step = FaultStep.model_validate({
        "name": "bad name!", "at": 100, "duration": 0, "app": ["naive", "ghost"], "dependency": "vectordb",
        "fault": {"kind": "slicer", "average_size": 4, "size_variation": 9},
    })
    problems = step.validate(["naive", "reference"], run_duration_s=60)
    text = "\n".join(problems)
    assert len(problems) == 5, text
    for needle in ("size_variation", "name may use", "duration must be positive", "'ghost'", "not before the end"):
        assert needle in text


@pytest.mark.parametrize(
    "raw",
    [
        {"at": 1, "dependency": "provider", "fault": {"kind": "meteor"}},
        {"at": 1, "dependency": "provider", "fault": {"kind": "error", "status": 200}},
        {"at": 1, "dependency": "vectordb", "fault": {"kind": "latency"}},  # latency_ms is required
        {"at": 1, "dependency": "vectordb", "fault": {"kind": "latency", "latency_ms": 5, "stream": "sideways"}},
        {"at": 1, "dependency": "vectordb", "fault": {"kind": "bandwidth", "rate_kbps": -1}},
        {"at": 1, "dependency": "vectordb", "fault": {"kind": "latency", "latency_ms": 5, "toxicity": 2}},
        {"at": "soon", "dependency": "vectordb", "fault": {"kind": "down"}},
        {"at": 1, "dependency": "vectordb", "fault": {"kind": "down"}, "typo": 1},
        {"at": 1, "app": [], "dependency": "vectordb", "fault": {"kind": "down"}},
    ],
)
def test_schema_errors(raw):
    with pytest.raises(ValidationError):
        FaultStep.model_validate(raw)


def test_default_name_is_derived():
    step = FaultStep(at=1.5, dependency="vectordb", fault={"kind": "down"})
    assert step.step_name == "vectordb-down-at-1.5s"
