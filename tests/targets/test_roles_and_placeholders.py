"""A target's dependencies have roles that fault steps address, and their proxies' addresses can be
put into the target's command and environment, so no wrapper script is needed."""

from __future__ import annotations

import sys

import pytest
import yaml

from ragchaos.faults.step import FaultStep
from ragchaos.scenarios.loader import ScenarioError, load_scenario
from ragchaos.scenarios.options import RunOptions, prepare_scenario
from ragchaos.stack.targets import BUILTIN_TARGETS, Target

BASE = {"command": "svc --port {port}", "query": {"path": "/q", "body": {"q": "{question}"}},
        "ingest": {"path": "/d", "body": {"t": "{text}"}}}


def _target(**fields: object) -> Target:
    return Target.model_validate({**BASE, **fields})


def test_roles_are_said_or_follow_the_upstream() -> None:
    t = _target(dependencies={"llm": "provider", "store": "chroma", "redis": {"upstream": "127.0.0.1:6379",
                                                                             "role": "cache"},
                              "pg": "127.0.0.1:5432", "vectors": {"upstream": "127.0.0.1:6333", "role": "vector_store"}})
    assert t.dependencies["redis"] == "127.0.0.1:6379" and t.roles == {"redis": "cache", "vectors": "vector_store"}
    assert [t.role_of(d) for d in ("llm", "store", "redis", "pg")] == ["provider", "vector_store", "cache", "other"]
    assert t.with_role("vector_store") == ["store", "vectors"]
    assert t.problems() == []
    ours = BUILTIN_TARGETS["reference"]
    assert ours.with_role("vector_store") == ["vectordb"] and ours.with_role("provider") == ["provider"]


def test_bad_roles_are_named() -> None:
    t = _target(dependencies={"db": {"upstream": "chroma", "role": "vectorstore"}})
    assert any("role 'vectorstore' is not a dependency role; roles: provider, vector_store, cache, other" in m
               for _, m in t.problems())
    with pytest.raises(ValueError, match="unknown field 'rol'"):
        _target(dependencies={"db": {"upstream": "chroma", "rol": "cache"}})


def test_placeholders_fill_command_and_env_with_each_proxys_address() -> None:
    t = _target(command="{python} -m svc --port {port} --store {store.url}",
                dependencies={"store": "chroma", "llm": "provider"},
                env={"CHROMA_HOST": "{store.host}", "CHROMA_PORT": "{store.port}", "LLM": "{llm.url}/v1",
                     "BOTH": "{store.addr},{llm.addr}", "JSON": "{{'a': 1}}"})
    assert t.problems() == []
    proxies = {"store": "127.0.0.1:4001", "llm": "127.0.0.1:4002"}
    assert t.argv(9000, proxies) == [sys.executable, "-m", "svc", "--port", "9000", "--store", "http://127.0.0.1:4001"]
    assert t.environment(9000, proxies) == {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": "4001",
                                            "LLM": "http://127.0.0.1:4002/v1",
                                            "BOTH": "127.0.0.1:4001,127.0.0.1:4002", "JSON": "{'a': 1}"}


@pytest.mark.parametrize(("value", "message"), [
    ("{vectordb.host}", "unknown placeholder {vectordb.host}: no dependency 'vectordb' (dependencies: store)"),
    ("{store}", "{store} needs a part: {store.host}, {store.port}, {store.addr} or {store.url}"),
    ("{store.hostname}", "unknown placeholder {store.hostname}; known here: {port}, {python}, {store.host}"),
    ("{hsot}", "unknown placeholder {hsot}; known here:"),
])
def test_unknown_placeholders_are_named_with_what_is_known(value: str, message: str) -> None:
    t = _target(dependencies={"store": "chroma"}, env={"X": value})
    problems = [(p, m) for p, m in t.problems()]
    assert any(p == ("env", "X") and message in m for p, m in problems), problems


def _scenario_with(targets: dict, fault: dict) -> ScenarioError | None:
    scenario = load_scenario("smoke").model_copy(update={
        "targets": {n: Target.model_validate({**BASE, **t}) for n, t in targets.items()},
        "faults": [FaultStep.model_validate({"at": 1, "duration": 2, "app": "both", **fault})],
    })
    try:
        prepare_scenario(scenario, RunOptions(apps=list(targets)))
    except ScenarioError as exc:
        return exc
    return None


def test_a_scenario_reaches_each_targets_dependency_of_the_role() -> None:
    latency = {"role": "vector_store", "fault": {"kind": "latency", "latency_ms": 100}}
    ok = _scenario_with({"a": {"dependencies": {"llm": "provider", "docs": "chroma"}},
                         "b": {"dependencies": {"llm": "provider", "q": {"upstream": "127.0.0.1:6333",
                                                                         "role": "vector_store"}}}}, latency)
    assert ok is None
    missing = _scenario_with({"a": {"dependencies": {"llm": "provider"}}}, latency)
    assert missing is not None and "a has no dependency with role 'vector_store'" in str(missing)
    two = _scenario_with({"a": {"dependencies": {"x": "chroma", "y": "chroma"}}}, latency)
    assert two is not None and "a has 2 dependencies with role 'vector_store' (x, y): name the one" in str(two)
    by_name = _scenario_with({"a": {"dependencies": {"x": "chroma", "y": "chroma"}}},
                             {"dependency": "y", "fault": {"kind": "latency", "latency_ms": 100}})
    assert by_name is None


def test_every_builtin_scenario_addresses_roles_not_our_names() -> None:
    from importlib import resources

    for path in (resources.files("ragchaos.scenarios") / "builtin").iterdir():
        if path.name.endswith(".yaml"):
            data = yaml.safe_load(path.read_text())
            for step in data.get("faults") or []:
                assert "role" in step and "dependency" not in step, (path.name, step)
