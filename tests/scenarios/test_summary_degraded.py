"""The run summary's "degraded" column: fallback answers served with a 200, over ok answers."""

from __future__ import annotations

import pytest

from ragchaos.reports.analysis import degraded_share


def test_cache_and_retrieval_only_fallbacks_count_unavailable_does_not() -> None:
    counters = {
        'ragchaos_fallback_total{kind="cache"}': 3.0,
        'ragchaos_fallback_total{kind="retrieval_only"}': 7.0,
        'ragchaos_fallback_total{kind="unavailable"}': 50.0,  # a 503: not an answer
        'ragchaos_requests_total{route="/v1/query"}': 100.0,
    }
    assert degraded_share(counters, ok=40) == pytest.approx(10 / 40)


def test_an_app_without_fallbacks_reports_zero_and_one_without_metrics_reports_unknown() -> None:
    assert degraded_share({'ragchaos_requests_total{route="/v1/query"}': 5.0}, ok=5) == 0.0
    assert degraded_share({}, ok=5) is None
    assert degraded_share({'ragchaos_fallback_total{kind="cache"}': 0.0}, ok=0) == 0.0
