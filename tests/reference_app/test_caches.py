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


def test_a_layer_asks_its_store_on_lookup_and_writes_through_on_put() -> None:
    import asyncio
    from collections.abc import Hashable, Sequence

    class DictStore:  # a CacheStore (stores.py) another replica wrote to
        def __init__(self) -> None:
            self.data: dict[Hashable, str] = {("t", "q"): "theirs"}
            self.fetched: list[list[Hashable]] = []

        async def fetch(self, keys: Sequence[Hashable]) -> dict[Hashable, str]:
            self.fetched.append(list(keys))
            return {k: self.data[k] for k in keys if k in self.data}

        def write(self, key: Hashable, value: str) -> None:
            self.data[key] = value

    store = DictStore()
    cache: LayerCache[str] = LayerCache("response", None, maxsize=10, ttl_s=None, store=store)
    assert cache.get(("t", "q")) is None  # get reads this replica only
    assert asyncio.run(cache.lookup(("t", "q"))) == "theirs"
    asyncio.run(cache.lookup(("t", "q")))
    assert store.fetched == [[("t", "q")]]  # held locally now: not asked again
    cache.put(("t", "mine"), "mine")
    assert store.data[("t", "mine")] == "mine"
    off: LayerCache[str] = LayerCache("response", None, maxsize=10, ttl_s=None, enabled=False, store=store)
    assert asyncio.run(off.lookup(("t", "q"))) is None and len(store.fetched) == 1
