"""Exact cache layers: keys, TTL on an injected clock, the switch, and hit/miss metrics."""

from __future__ import annotations

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.caches import CorpusVersions, LayerCache, filters_key, normalise_question


def sample(metrics: AppMetrics, layer: str, result: str) -> float:
    return metrics.registry.get_sample_value("ragchaos_cache_requests_total", {"layer": layer, "result": result}) or 0.0


def test_normalise_question() -> None:
    assert normalise_question("  What IS   the policy? ") == normalise_question("what is the policy")
    assert normalise_question("is it on?") != normalise_question("is it off?")


def test_filters_key_is_order_free() -> None:
    assert filters_key({"a": 1, "b": "x"}) == filters_key({"b": "x", "a": 1})
    assert filters_key(None) == filters_key({}) == ""
    assert filters_key({"a": 1}) != filters_key({"a": 2})


def test_hits_misses_and_ttl() -> None:
    now = [0.0]
    m = AppMetrics("t")
    c: LayerCache[str] = LayerCache("response", m, maxsize=10, ttl_s=5.0, clock=lambda: now[0])
    assert c.get("k") is None
    c.put("k", "v")
    assert c.get("k") == "v"
    now[0] = 6.0
    assert c.get("k") is None
    assert sample(m, "response", "hit") == 1 and sample(m, "response", "miss") == 2


def test_bounded_size() -> None:
    c: LayerCache[int] = LayerCache("embedding", None, maxsize=3, ttl_s=None)
    for i in range(10):
        c.put(i, i)
    assert len(c) == 3 and c.get(9) == 9 and c.get(0) is None


def test_switched_off_is_a_pass_through() -> None:
    m = AppMetrics("t")
    c: LayerCache[str] = LayerCache("retrieval", m, maxsize=10, ttl_s=None, enabled=False)
    c.put("k", "v")
    assert c.get("k") is None and len(c) == 0
    assert sample(m, "retrieval", "miss") == 0


def test_corpus_versions_bump_and_notify() -> None:
    v = CorpusVersions()
    seen: list[str] = []
    v.on_change(seen.append)
    assert v.get("t1") == 0
    assert v.bump("t1") == 1 and v.get("t1") == 1 and v.get("t2") == 0
    assert seen == ["t1"]
