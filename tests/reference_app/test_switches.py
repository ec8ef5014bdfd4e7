"""RAGCHAOS_DISABLE parsing: known names switch, unknown names stop the app naming the valid ones."""

from __future__ import annotations

import pytest

from ragchaos.reference_app.settings import ReferenceSettings
from ragchaos.reference_app.switches import CACHE_LAYERS, MECHANISMS, Switches, parse_disabled


def test_parse_and_normalise() -> None:
    assert parse_disabled(" cache , Breaker,") == {"cache", "breaker"}
    assert parse_disabled("") == frozenset()


def test_unknown_name_is_an_error_naming_the_valid_ones() -> None:
    with pytest.raises(ValueError) as exc:
        parse_disabled("cache,brekaer")
    assert "brekaer" in str(exc.value)
    for name in MECHANISMS:
        assert name in str(exc.value)


def test_cache_switches_every_layer() -> None:
    s = Switches(frozenset({"cache"}))
    assert not any(s.on(layer) for layer in CACHE_LAYERS)
    assert s.on("batching")
    assert set(CACHE_LAYERS) | {"cache"} <= s.effective_disabled()


def test_one_layer_leaves_the_others() -> None:
    s = Switches(frozenset({"semantic_cache"}))
    assert not s.on("semantic_cache")
    assert s.on("response_cache") and s.on("embedding_cache")


def test_settings_refuse_unknown_mechanisms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_DISABLE", "cache,nope")
    with pytest.raises(ValueError, match="nope"):
        ReferenceSettings()
    monkeypatch.setenv("RAGCHAOS_DISABLE", "cache,retries")
    assert ReferenceSettings().switches.effective_disabled() >= {"cache", "retries"}


def test_tenant_filter_is_not_a_switch() -> None:
    assert not any("tenant" in m for m in MECHANISMS)
