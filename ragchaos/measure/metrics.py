"""The mechanism metrics an app that measures itself exposes at ``GET /metrics`` (names in
docs/contracts.md): the reference app, and a user's service that adds them.

Each app builds its own ``AppMetrics`` in ``create_app`` (no module-level registry), so two
apps in one process, or one app per test, never share counters; a mechanism the app lacks
shows at zero. The naive app has none: it measures nothing itself (what a tutorial writes).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["AppMetrics", "BREAKER_STATE_VALUE", "PROMETHEUS_CONTENT_TYPE"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# ragchaos_breaker_state{dependency} takes these values
BREAKER_STATE_VALUE = {"closed": 0, "half_open": 1, "open": 2}


class AppMetrics:
    """The mechanism metric set on a private registry."""

    def __init__(self, app_name: str) -> None:
        self.app_name = app_name
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.cache_requests = Counter(
            "ragchaos_cache_requests", "Cache lookups by layer and result", ["layer", "result"], registry=r
        )
        # re-checked when the tenant's corpus changed: kept (re-keyed) or dropped (revalidation.py)
        self.cache_carried = Counter(
            "ragchaos_cache_carried", "Cached entries re-checked on a corpus change, by layer and result",
            ["layer", "result"], registry=r,
        )
        self.retries = Counter(
            "ragchaos_retries", "Retries of dependency calls by reason", ["dependency", "reason"], registry=r
        )
        self.breaker_state = Gauge(
            "ragchaos_breaker_state", "Breaker state: 0 closed, 1 half-open, 2 open", ["dependency"], registry=r
        )
        self.breaker_transitions = Counter(
            "ragchaos_breaker_transitions", "Breaker state changes", ["dependency", "to"], registry=r
        )
        self.shed = Counter("ragchaos_shed", "Requests shed fast, by reason", ["reason"], registry=r)
        self.embed_batch_size = Histogram(
            "ragchaos_embed_batch_size",
            "Inputs per provider embeddings call",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048),
            registry=r,
        )
        self.quota_rejections = Counter(
            "ragchaos_quota_rejections", "Requests refused by a tenant quota", ["tenant"], registry=r
        )
        self.fallbacks = Counter("ragchaos_fallback", "Fallback answers served, by kind", ["kind"], registry=r)
        self.provider_tokens = Counter(
            "ragchaos_provider_tokens", "Tokens spent at the provider, by kind", ["kind"], registry=r
        )
        # the reference app's ingest queue (ingest_queue.py): what became of each job's attempt
        self.ingest_jobs = Counter(
            "ragchaos_ingest_jobs", "Ingest job attempts by outcome: indexed, retried, dead_lettered", ["outcome"],
            registry=r,
        )
        self.dead_letters = Gauge("ragchaos_ingest_dead_letters", "Ingest jobs in dead letters", registry=r)
        self.dead_letter_oldest_age = Gauge(
            "ragchaos_ingest_dead_letter_oldest_age_seconds", "Age of the oldest dead letter (0 when none)", registry=r
        )
        self.gc_frozen_objects = Gauge(
            "ragchaos_gc_frozen_objects", "Objects frozen out of the collector's passes at startup (gc_freeze)",
            registry=r,
        )
        self.gc_full_pass = Histogram(
            "ragchaos_gc_full_pass_seconds", "Duration of the cyclic collector's full (generation 2) passes",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0), registry=r,
        )
        self.provider_calls = Counter(
            "ragchaos_provider_calls", "Calls made to the provider, by endpoint", ["endpoint"], registry=r
        )

    def render(self) -> bytes:
        """Prometheus text exposition of this app's registry."""
        return generate_latest(self.registry)
