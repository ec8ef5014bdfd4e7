"""``run --ablate``: the names it takes, and the scenario it turns a scenario into."""

from __future__ import annotations

import pytest

from ragchaos.reference_app.switches import MECHANISMS
from ragchaos.scenarios.ablation import ABLATABLE, ABLATE_ALL, ablated_app, ablated_scenario, parse_ablate
from ragchaos.scenarios.loader import ScenarioError, load_scenario


def test_every_ablatable_name_is_a_switch_of_the_reference_app() -> None:
    assert set(ABLATABLE) <= set(MECHANISMS)
    assert set(ABLATE_ALL) <= set(ABLATABLE)


def test_all_means_the_premise_mechanisms_and_names_are_deduplicated() -> None:
    assert parse_ablate("all") == list(ABLATE_ALL)
    assert parse_ablate(" Cache, retries,cache ") == ["cache", "retries"]


@pytest.mark.parametrize(("text", "near"), [("cahce", "cache"), ("retires", "retries"), ("breakr", "breaker")])
def test_a_bad_name_is_refused_with_the_closest(text: str, near: str) -> None:
    with pytest.raises(ScenarioError) as err:
        parse_ablate(f"batching,{text}")
    assert f"did you mean {near}?" in str(err.value)
    assert text in str(err.value)


def test_nothing_to_ablate_is_refused() -> None:
    with pytest.raises(ScenarioError, match="at least one"):
        parse_ablate(" , ")


def test_each_copy_is_the_reference_app_with_one_switch_off_and_its_settings() -> None:
    base = load_scenario("monday-morning")
    s = ablated_scenario(base, ["cache", "retries"])
    assert s.apps == ["reference", "reference_no_cache", "reference_no_retries"]
    assert s.target("reference_no_cache").builtin == "reference"
    env = s.app_env["reference_no_retries"]
    assert env["RAGCHAOS_DISABLE"] == "retries"
    # the reference app's own configuration for this provider (deadline, bulkheads) comes along
    assert {k: v for k, v in env.items() if k != "RAGCHAOS_DISABLE"} == base.app_env["reference"]
    assert "RAGCHAOS_DISABLE" not in s.app_env["reference"]
    # every fault hits every copy alike, and only the full app's own checks remain
    assert all(step.targets(s.apps) == s.apps for step in s.faults)
    assert s.checks and all(c.check.startswith("reference.") and "naive" not in c.check for c in s.checks)
    assert not s.validate()


def test_ablated_app_names_are_valid_target_names() -> None:
    assert ablated_app("bulk_upsert") == "reference_no_bulk_upsert"


def test_the_command_plans_the_copies_and_refuses_a_bad_name(capsys) -> None:
    from ragchaos.cli import main

    assert main(["run", "monday-morning", "--ablate", "all", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "apps: reference, reference_no_cache, reference_no_batching" in out
    assert main(["run", "monday-morning", "--ablate", "cache,brekaer", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown mechanism 'brekaer'; did you mean breaker?" in err and "Traceback" not in err
    assert main(["run", "monday-morning", "--ablate", "cache", "--apps", "naive", "--dry-run"]) == 2
    assert "leave out --apps" in capsys.readouterr().err
