"""The one registry helper: a name registered twice is refused, an unknown name's error helps."""

from __future__ import annotations

import pytest

from ragchaos.core.registry import Registry, UnknownName


def test_register_keeps_the_object_and_tags_it() -> None:
    reg: Registry[object] = Registry("widget")

    @reg.register("round", tag="widget_name")
    class Round:
        widget_name = ""

    assert reg["round"] is Round and Round.widget_name == "round"
    assert reg.names() == ["round"]


def test_entry_builds_what_is_stored() -> None:
    reg: Registry[object] = Registry("rule")

    @reg.register("one", entry=lambda cls: cls())
    class One:
        pass

    assert isinstance(reg["one"], One)


def test_a_name_registered_twice_is_refused() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="widget 'a' registered twice"):
        reg.add("a", 2)
    assert reg["a"] == 1


def test_an_unknown_name_lists_the_known_and_the_closest() -> None:
    reg: Registry[int] = Registry("toxic")
    reg.add("latency", 1)
    reg.add("bandwidth", 2)
    with pytest.raises(UnknownName) as err:
        reg.get_or_raise("latncy")
    assert str(err.value) == "unknown toxic 'latncy' (did you mean 'latency'?); known: bandwidth, latency"
    assert isinstance(err.value, KeyError)


def test_every_fault_kind_a_step_can_parse_is_registered() -> None:
    from typing import get_args

    from ragchaos.faults.kinds import FAULT_SPECS, NETWORK_KINDS, PROVIDER_KINDS, FaultSpec

    assert set(get_args(get_args(FaultSpec)[0])) == set(FAULT_SPECS.values())
    assert set(NETWORK_KINDS) | set(PROVIDER_KINDS) == set(FAULT_SPECS.values())
    assert "latency" in FAULT_SPECS and "rate_limit" in FAULT_SPECS
