"""The reference app's settings: the shared ones plus each data-path mechanism's knobs.

Read from ``RAGCHAOS_*`` (e.g. ``RAGCHAOS_EMBED_BATCH_MAX_ITEMS=32``); the resilience
mechanisms' own knobs are ``RAGCHAOS_<PART>__<FIELD>`` (ragchaos/reference_app/resilience.py).
``RAGCHAOS_DISABLE`` is checked here, so an unknown mechanism name stops the app at start.
"""

from __future__ import annotations

import difflib

from pydantic import Field, field_validator, model_validator

from ragchaos.kit.settings import AppSettings
from ragchaos.reference_app.resilience import ResilienceSettings
from ragchaos.reference_app.switches import Switches, parse_disabled

__all__ = ["BREAKER_SCOPES", "ReferenceSettings"]

# where the circuit breakers' state lives: this replica's memory, or Redis for the whole fleet
# (docs/scale-out.md, "Why the circuit breaker stays per replica" and "When to choose fleet scope")
BREAKER_SCOPES = ("replica", "fleet")


class ReferenceSettings(AppSettings):
    app_name: str = "reference"

    # pooling: one client per dependency, explicit timeouts (the guards cap each attempt)
    provider_timeout_s: float = Field(30.0, gt=0)
    provider_connect_timeout_s: float = Field(2.0, gt=0)
    provider_max_connections: int = Field(100, ge=1)
    # batching
    embed_batch_max_items: int = Field(64, ge=1, le=2048)
    embed_batch_max_wait_ms: float = Field(5.0, ge=0)
    # bulk upserts
    upsert_batch_size: int = Field(256, ge=1)
    # the durable ingest queue
    ingest_workers: int = Field(2, ge=0)  # 0: this replica only accepts jobs (others index them)
    ingest_claim_jobs: int = Field(16, ge=1)
    ingest_max_attempts: int = Field(5, ge=1)  # per job; a permanent failure is a dead letter at once
    ingest_backoff_s: float = Field(0.5, gt=0)  # first retry of a transient failure, doubling, jittered
    ingest_max_backoff_s: float = Field(30.0, gt=0)
    ingest_deadline_s: float = Field(60.0, gt=0)
    ingest_poll_s: float = Field(0.5, gt=0)
    # REDIS_URL (ragchaos/reference_app/shared/): a pending job silent this long is claimed by another worker
    ingest_claim_idle_s: float = Field(30.0, gt=0)
    redis_prefix: str | None = None  # default: ragchaos:<collection prefix>: (one fleet)
    breaker_scope: str = "replica"  # RAGCHAOS_BREAKER_SCOPE: replica | fleet (needs REDIS_URL)
    # caches
    response_cache_size: int = Field(10_000, ge=1)
    response_cache_ttl_s: float = Field(300.0, gt=0)
    retrieval_cache_size: int = Field(10_000, ge=1)
    retrieval_cache_ttl_s: float = Field(300.0, gt=0)
    embedding_cache_size: int = Field(20_000, ge=1)  # ~1.5 KB a vector
    semantic_threshold: float = Field(0.95, ge=0, le=1)
    semantic_ttl_s: float = Field(600.0, gt=0)
    semantic_max_entries: int = Field(512, ge=1)

    resilience: ResilienceSettings = Field(default_factory=ResilienceSettings)

    @field_validator("disable")
    @classmethod
    def _known_mechanisms(cls, v: str) -> str:
        parse_disabled(v)  # raises naming the valid names
        return v

    @field_validator("breaker_scope")
    @classmethod
    def _known_scope(cls, v: str) -> str:
        if v not in BREAKER_SCOPES:
            close = difflib.get_close_matches(v, BREAKER_SCOPES, n=1, cutoff=0.0)
            raise ValueError(f"RAGCHAOS_BREAKER_SCOPE={v!r} is not a scope; did you mean {close[0]!r}? "
                             f"(one of: {', '.join(BREAKER_SCOPES)})")
        return v

    @model_validator(mode="after")
    def _fleet_needs_redis(self) -> ReferenceSettings:
        if self.breaker_scope == "fleet" and not self.redis_url:
            raise ValueError("RAGCHAOS_BREAKER_SCOPE=fleet shares breaker state through Redis: set REDIS_URL "
                             "too, or use RAGCHAOS_BREAKER_SCOPE=replica")
        return self

    @property
    def switches(self) -> Switches:
        return Switches(parse_disabled(self.disable))
