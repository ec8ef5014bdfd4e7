"""The semantic cache: one threshold convention, hard partitions, the negation guard, expiry."""

from __future__ import annotations

import math

import pytest

from ragchaos.reference_app.semantic_cache import SemanticCache, guard_signature

P1 = ("tenant-a", 0, "prompt", "model", 4, "")
P2 = ("tenant-b", 0, "prompt", "model", 4, "")


def unit(angle_deg: float) -> list[float]:
    a = math.radians(angle_deg)
    return [math.cos(a), math.sin(a), 0.0]


def test_hit_iff_similarity_reaches_threshold() -> None:
    c = SemanticCache(threshold=0.95)
    c.store(P1, unit(0), "what is the refund policy", "answer")
    hit = c.lookup(P1, unit(15), "what's the refund policy")  # cos 15deg = 0.966
    assert hit is not None and hit.value == "answer" and hit.similarity == pytest.approx(0.966, abs=1e-3)
    assert c.lookup(P1, unit(20), "what's the refund policy") is None  # cos 20deg = 0.940


def test_threshold_edges() -> None:
    exact = SemanticCache(threshold=1.0)
    exact.store(P1, [3.0, 4.0, 0.0], "q", "a")  # not normalised: the cache normalises
    assert exact.lookup(P1, [0.6, 0.8, 0.0], "q") is not None
    assert exact.lookup(P1, unit(1), "q") is None
    anything = SemanticCache(threshold=0.0)
    anything.store(P1, unit(0), "q", "a")
    assert anything.lookup(P1, unit(89), "q") is not None
    assert anything.lookup(P1, unit(100), "q") is None  # opposed vectors never match
    with pytest.raises(ValueError):
        SemanticCache(threshold=1.5)


def test_partitions_are_hard() -> None:
    c = SemanticCache(threshold=0.5)
    c.store(P1, unit(0), "q", "tenant-a answer")
    assert c.lookup(P2, unit(0), "q") is None
    assert c.lookup(P1[:1] + (1,) + P1[2:], unit(0), "q") is None  # another corpus version


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("What is the refund policy?", "What is not the refund policy?"),
        ("Is the feature enabled?", "Is the feature disabled?"),
        ("Turn on dark mode", "Turn off dark mode"),
        ("Can I return it?", "Can't I return it?"),
        ("Orders above 50 euros ship free", "Orders above 60 euros ship free"),
        ("Do you ship to Spain?", "Do you never ship to Spain?"),
    ],
)
def test_negations_and_numbers_never_hit(stored: str, asked: str) -> None:
    c = SemanticCache(threshold=0.0)
    c.store(P1, unit(0), stored, "answer")
    assert c.lookup(P1, unit(0), asked) is None  # even at identical vectors


def test_guard_passes_a_plain_paraphrase() -> None:
    assert guard_signature("What is the refund policy?") == guard_signature("Refund policy?")
    assert guard_signature("isn't it") == guard_signature("is it not")


def test_best_guarded_entry_wins() -> None:
    c = SemanticCache(threshold=0.9)
    c.store(P1, unit(0), "is it not allowed", "negative")
    c.store(P1, unit(10), "is it allowed", "positive")
    hit = c.lookup(P1, unit(1), "is it allowed")
    assert hit is not None and hit.value == "positive"


def test_ttl_capacity_and_invalidation() -> None:
    now = [0.0]
    c = SemanticCache(threshold=0.9, ttl_s=10, max_entries=2, clock=lambda: now[0])
    c.store(P1, unit(0), "a", 1)
    now[0] = 11.0
    assert c.lookup(P1, unit(0), "a") is None
    for i in range(3):
        c.store(P1, unit(i * 40), f"q{i}", i)
    assert len(c) == 2 and c.lookup(P1, unit(0), "q0") is None
    c.store(P2, unit(0), "b", 2)
    assert c.invalidate_tenant("tenant-a") == 1
    assert c.lookup(P1, unit(80), "q2") is None and c.lookup(P2, unit(0), "b") is not None


def test_switched_off_stores_nothing() -> None:
    c = SemanticCache(enabled=False)
    c.store(P1, unit(0), "q", "a")
    assert c.lookup(P1, unit(0), "q") is None and len(c) == 0
