"""Settings both apps read from the environment (docs/contracts.md, "Apps").

Built in ``main()`` and passed to ``create_app(settings)``; nothing reads the environment at
import time. The limits are part of the API contract and documented in docs/apps.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["AppSettings"]

# Chroma collection names are 3-512 chars of [a-zA-Z0-9._-], starting and ending alphanumeric
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAGCHAOS_", extra="ignore")

    app_name: str = "naive"
    provider_url: str = "http://127.0.0.1:8000/v1"
    provider_key: str | None = None  # default: the app name (each app has its own budget)
    chroma_host: str = "127.0.0.1"
    chroma_port: int = Field(default=8001, ge=1, le=65535)
    collection_prefix: str | None = None  # default: the app name
    data_dir: Path = Path(".ragchaos-data")
    disable: str = ""  # comma list of mechanisms to switch off (reference app)
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "RAGCHAOS_REDIS_URL"))
    log_level: str = "INFO"
    # SIGTERM: requests in flight get this long to finish (uvicorn's graceful shutdown) before
    # they are cancelled; longer than the reference app's 10 s request budget, so a drain never
    # cuts an admitted request short
    shutdown_grace_s: float = Field(default=15.0, gt=0, le=300)

    # a client gets this long to send a request's head and body (408 and closed after), and at most
    # this many connections may be part-way through sending one (ragchaos/kit/slowclients.py)
    request_read_timeout_s: float = Field(default=15.0, gt=0, le=600)
    max_reading_connections: int = Field(default=256, ge=1, le=100_000)
    # an idle keep-alive connection stays open this long. Longer than any usual client's idle
    # expiry (httpx 5 s, a load balancer's 60 s): with uvicorn's 5 s default, equal to httpx's,
    # a client could send on a connection the server was closing that instant and get a reset
    # instead of an answer (seen once in a 10,000-query test run). The client closes first now.
    keep_alive_s: int = Field(default=75, ge=1, le=3600)

    # API limits: bad input past these gets a 4xx JSON error, never a 500
    max_body_bytes: int = 1_048_576
    max_doc_chars: int = 200_000
    max_question_chars: int = 2_000
    max_top_k: int = 20
    default_top_k: int = 4

    @field_validator("collection_prefix")
    @classmethod
    def _prefix_ok(cls, v: str | None) -> str | None:
        if v is not None and not _PREFIX.match(v):
            raise ValueError("must be 1-201 chars of [A-Za-z0-9._-] starting with a letter or digit")
        return v

    @property
    def api_key(self) -> str:
        return self.provider_key or self.app_name

    @property
    def collection_name(self) -> str:
        prefix = self.collection_prefix or self.app_name
        if not _PREFIX.match(prefix):
            raise ValueError(f"collection prefix {prefix!r} is not a valid Chroma name prefix")
        return f"{prefix}_chunks"

    @property
    def disabled(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.disable.split(",") if p.strip())
