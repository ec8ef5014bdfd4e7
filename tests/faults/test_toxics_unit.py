"""Toxics as objects: the registry, attribute decoding (merge, Go-style type errors), checks, and the
slicer's cut points. Their behaviour over TCP is in test_tcp.py."""

from __future__ import annotations

import random

import pytest

from ragchaos.faults.toxics import TOXICS, new_toxic
from ragchaos.faults.toxics.base import (
    AttributeTypeError,
    Cleanup,
    NeedsLinger,
    Rerolled,
    Stateful,
    ToxicWrapper,
)
from ragchaos.faults.toxics.slicer import SlicerToxic


def test_registry_has_every_toxiproxy_type():
    # and one of ours (reset_churn: resets that reach pooled connections; DIFFERENCES.md)
    assert set(TOXICS) == {"noop", "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer",
                           "limit_data", "reset_churn"}


def test_capabilities_by_protocol():
    assert [t for t, c in TOXICS.items() if isinstance(c(), Stateful)] == ["limit_data"]
    assert [t for t, c in TOXICS.items() if isinstance(c(), Cleanup)] == ["timeout"]
    assert sorted(t for t, c in TOXICS.items() if isinstance(c(), NeedsLinger)) == ["reset_churn", "reset_peer"]
    assert [t for t, c in TOXICS.items() if isinstance(c(), Rerolled)] == ["reset_churn"]


def test_merge_keeps_unset_attributes_and_null_changes_nothing():
    toxic = new_toxic("latency", {"latency": 100, "jitter": 10, "unknown": "ignored"})
    assert toxic.attributes() == {"latency": 100, "jitter": 10}
    assert toxic.merged({"latency": 5}).attributes() == {"latency": 5, "jitter": 10}
    assert toxic.merged({"jitter": None}).attributes() == {"latency": 100, "jitter": 10}
    assert toxic.attributes() == {"latency": 100, "jitter": 10}  # merged() copies


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", "cannot unmarshal string into Go struct field LatencyToxic.attributes.latency of type int64"),
     (1.5, "cannot unmarshal number 1.5 into Go struct field LatencyToxic.attributes.latency of type int64"),
     (True, "cannot unmarshal bool into"), ([1], "cannot unmarshal array into")],
)
def test_wrong_attribute_types(value, text):
    with pytest.raises(AttributeTypeError, match=text.replace(".", r"\.")):
        new_toxic("latency", {"latency": value})


def test_no_toxic_refuses_a_value_the_real_server_takes():
    # the real server validates no attribute: neither do we (each toxic guards its data path)
    assert new_toxic("bandwidth", {"rate": -1}).check() is None
    assert new_toxic("slicer", {"average_size": 0}).check() is None
    assert new_toxic("slicer", {"average_size": 3, "size_variation": -1}).check() is None


@pytest.mark.parametrize(("value", "shown"), [(1.0, 1), (0.2, 0.2), (0.5, 0.5), (0.1, 0.1), (1.5, 1.5), (0.0, 0)])
def test_toxicity_marshals_like_a_go_float32(value, shown):
    body = ToxicWrapper("n", "noop", "downstream", value, new_toxic("noop", None)).to_json()
    assert body["toxicity"] == shown and type(body["toxicity"]) is type(shown)


def slices(toxic: SlicerToxic, size: int, seed: int = 1) -> list[int]:
    cuts = toxic.bounds(size, random.Random(seed))
    return [b - a for a, b in zip(cuts, cuts[1:], strict=False)]


def test_slicer_cuts_cover_the_chunk_in_bounded_pieces():
    toxic = new_toxic("slicer", {"average_size": 1024, "size_variation": 512})
    assert isinstance(toxic, SlicerToxic)
    pieces = slices(toxic, 480 * 1024)
    assert sum(pieces) == 480 * 1024
    assert 240 <= len(pieces) <= 720  # Toxiproxy's own test bounds
    assert max(pieces) <= 1024 + 512 and min(pieces) > 0


def test_slicer_one_byte_pieces():
    toxic = new_toxic("slicer", {"average_size": 1, "size_variation": 0})
    assert slices(toxic, 24) == [1] * 24
    assert slices(toxic, 0) == []


def test_an_attribute_past_int64_is_refused_as_go_refuses_it():
    with pytest.raises(AttributeTypeError, match="cannot unmarshal number 9223372036854775808 into Go struct field"):
        new_toxic("latency", {"latency": 2**63})


def test_a_slicer_of_size_zero_or_less_cuts_single_bytes():
    assert slices(SlicerToxic().merged({"average_size": 0}), 5) == [1, 1, 1, 1, 1]
    assert slices(SlicerToxic().merged({"average_size": -5, "size_variation": -3}), 4) == [1, 1, 1, 1]
