"""Per-tenant quotas: a burst, a refill rate, a Retry-After, and no effect on other tenants."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.quotas import (
    MemoryQuotaStore,
    QuotaConfig,
    QuotaExceeded,
    TenantLimit,
    TenantQuotas,
)
from ragchaos.reference_app.resilience import ResilienceSettings, build_quotas
from tests.reference_app.test_retries import FakeClock, sample


def _quotas(clock: FakeClock, **config: object) -> tuple[TenantQuotas, AppMetrics]:
    metrics = AppMetrics("reference")
    return TenantQuotas(QuotaConfig(**config), metrics, clock=clock), metrics


def test_burst_then_refusal_with_retry_after_then_refill() -> None:
    clock = FakeClock()
    quotas, metrics = _quotas(clock, rate_per_s=2.0, burst=3.0)

    async def scenario() -> None:
        for _ in range(3):
            await quotas.acquire("noisy")
        with pytest.raises(QuotaExceeded) as raised:
            await quotas.acquire("noisy")
        assert raised.value.tenant == "noisy"
        assert raised.value.retry_after == pytest.approx(0.5)  # one request at 2/s
        clock.advance(0.5)
        await quotas.acquire("noisy")
        with pytest.raises(QuotaExceeded):
            await quotas.acquire("noisy")

    asyncio.run(scenario())
    assert sample(metrics, "ragchaos_quota_rejections_total", tenant="noisy") == 2.0


def test_a_noisy_tenant_does_not_spend_another_tenants_quota() -> None:
    clock = FakeClock()
    quotas, metrics = _quotas(clock, rate_per_s=1.0, burst=2.0)

    async def scenario() -> int:
        refused = 0
        for _ in range(50):
            try:
                await quotas.acquire("noisy")
            except QuotaExceeded:
                refused += 1
        await quotas.acquire("quiet")
        await quotas.acquire("quiet")
        return refused

    assert asyncio.run(scenario()) == 48
    assert sample(metrics, "ragchaos_quota_rejections_total", tenant="quiet") == 0.0


def test_refusals_do_not_drain_the_bucket() -> None:
    """A tenant hammering while refused still gets in at the sustained rate."""
    clock = FakeClock()
    quotas, _ = _quotas(clock, rate_per_s=10.0, burst=1.0)

    async def scenario() -> int:
        admitted = 0
        for _ in range(100):  # 100 tries over 1 s, one every 10 ms
            try:
                await quotas.acquire("t")
                admitted += 1
            except QuotaExceeded:
                pass
            clock.advance(0.01)
        return admitted

    assert asyncio.run(scenario()) == 10


def test_cost_and_overrides() -> None:
    clock = FakeClock()
    quotas, _ = _quotas(
        clock, rate_per_s=100.0, burst=100.0, overrides={"small": TenantLimit(rate_per_s=1.0, burst=5.0)}
    )

    async def scenario() -> None:
        await quotas.acquire("small", cost=5)
        with pytest.raises(QuotaExceeded) as raised:
            await quotas.acquire("small", cost=2)
        assert raised.value.retry_after == pytest.approx(2.0)
        await quotas.acquire("big", cost=60)
        await quotas.acquire("big", cost=40)

    asyncio.run(scenario())


def test_idle_tenants_are_forgotten_and_come_back_full() -> None:
    clock = FakeClock()
    store = MemoryQuotaStore(clock=clock, ttl_s=60.0)
    limit = TenantLimit(rate_per_s=0.01, burst=1.0)

    async def scenario() -> tuple[float, float]:
        assert await store.take("t", 1, limit) == 0.0
        refused = await store.take("t", 1, limit)
        clock.advance(61.0)
        return refused, await store.take("t", 1, limit)

    refused, later = asyncio.run(scenario())
    assert refused > 0 and later == 0.0
    assert len(store._buckets) == 1


def test_a_custom_store_is_used_through_the_protocol() -> None:
    calls: list[tuple[str, float, TenantLimit]] = []

    class RefuseAll:
        async def take(self, key: str, cost: float, limit: TenantLimit) -> float:
            calls.append((key, cost, limit))
            return 7.0

    quotas = TenantQuotas(QuotaConfig(rate_per_s=3, burst=4), store=RefuseAll())
    with pytest.raises(QuotaExceeded) as raised:
        asyncio.run(quotas.acquire("t", cost=2))
    assert raised.value.retry_after == 7.0
    assert calls == [("t", 2, TenantLimit(rate_per_s=3, burst=4))]


def test_quotas_switched_off_admit_everything() -> None:
    clock = FakeClock()
    metrics = AppMetrics("reference")
    quotas = build_quotas(
        ResilienceSettings(quota=QuotaConfig(rate_per_s=1, burst=1)), metrics, {"quotas"}, clock=clock
    )

    async def scenario() -> None:
        for _ in range(20):
            await quotas.acquire("t")

    asyncio.run(scenario())
    assert sample(metrics, "ragchaos_quota_rejections_total", tenant="t") == 0.0


def test_quota_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGCHAOS_QUOTA__RATE_PER_S", "5")
    monkeypatch.setenv("RAGCHAOS_QUOTA__OVERRIDES", '{"noisy": {"rate_per_s": 1, "burst": 2}}')
    settings = ResilienceSettings()
    assert settings.quota.rate_per_s == 5.0
    assert settings.quota.limit_for("noisy") == TenantLimit(rate_per_s=1, burst=2)
    assert settings.quota.limit_for("other") == TenantLimit(rate_per_s=5, burst=100)
    monkeypatch.setenv("RAGCHAOS_QUOTA__BURST", "-1")
    with pytest.raises(ValidationError, match="burst"):
        ResilienceSettings()
