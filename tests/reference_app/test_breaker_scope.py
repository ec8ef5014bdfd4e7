"""``RAGCHAOS_BREAKER_SCOPE``: replica (default) or fleet, checked at startup and wired by the backend."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.resilience import ResilienceSettings, build_guards
from ragchaos.reference_app.settings import ReferenceSettings
from ragchaos.reference_app.shared.backend import select_backend

URL = "redis://127.0.0.1:1/0"  # never connected to: these tests only build the parts


def test_the_default_scope_is_per_replica_even_with_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGCHAOS_BREAKER_SCOPE", raising=False)
    settings = ReferenceSettings(redis_url=URL)
    assert settings.breaker_scope == "replica"
    assert select_backend(settings, AppMetrics("t-scope-a")).breaker_stores() is None


def test_a_misspelt_scope_stops_the_app_naming_the_closest_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_BREAKER_SCOPE", "flete")
    with pytest.raises(ValidationError, match=r"RAGCHAOS_BREAKER_SCOPE='flete'.*did you mean 'fleet'"):
        ReferenceSettings(redis_url=URL)


def test_fleet_scope_without_redis_is_a_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_BREAKER_SCOPE", "fleet")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("RAGCHAOS_REDIS_URL", raising=False)
    with pytest.raises(ValidationError, match="set REDIS_URL"):
        ReferenceSettings()


def test_fleet_scope_gives_every_breaker_a_redis_state_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_BREAKER_SCOPE", "fleet")
    settings = ReferenceSettings(redis_url=URL)
    metrics = AppMetrics("t-scope-b")
    stores = select_backend(settings, metrics).breaker_stores()
    assert stores is not None
    guards = build_guards(ResilienceSettings(), metrics, frozenset(), breaker_stores=stores)
    scopes = {name: (g.breaker.scope if g.breaker else None) for name, g in guards.items()}
    assert scopes == {"embeddings": "fleet", "chat": "fleet", "vectordb": "fleet"}
    replica = build_guards(ResilienceSettings(), metrics, frozenset())
    assert {g.breaker.scope for g in replica.values() if g.breaker} == {"replica"}
