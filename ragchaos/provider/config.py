"""The provider's configuration: one pydantic model, loaded from YAML or JSON, validated whole.

Defaults are those of a low paid tier, so a flood meets 429s out of the box:

- every key: embeddings 500 requests and 1,000,000 tokens per minute; chat 500 requests and
  200,000 tokens per minute (OpenAI's tier 1 for gpt-4o-mini has 500 RPM / 200k TPM);
- the latency model on (embeddings ~40 ms, chat ~300 ms to the first token then ~12 ms a
  token), a lognormal tail, and 16 requests in service per key before requests queue;
- a 60 s burst window (``limits_window_s``): a bucket holds a whole minute's budget.

Every model forbids unknown fields, so a typo in a config file is an error, not a silent
default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ChatConfig",
    "ConfigError",
    "DEFAULT_KEYS",
    "EmbeddingsConfig",
    "KeyConfig",
    "LatencyConfig",
    "Limits",
    "Price",
    "ProviderConfig",
    "load_config",
]

DEFAULT_KEYS = ("naive", "reference", "test")
KEYS_ENV = "RAGCHAOS_PROVIDER_KEYS"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Model):
    """Requests and tokens per minute for one endpoint family; None keeps the default."""

    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class KeyConfig(_Model):
    embeddings: Limits = Limits()
    chat: Limits = Limits()
    # the key's account is out of credit: every call gets 429 insufficient_quota
    insufficient_quota: bool = False


class LatencyConfig(_Model):
    enabled: bool = True
    seed: int = 0
    embeddings_base_ms: float = Field(default=40.0, ge=0)
    embeddings_per_input_ms: float = Field(default=0.5, ge=0)
    embeddings_per_token_ms: float = Field(default=0.005, ge=0)
    chat_ttft_ms: float = Field(default=300.0, ge=0)
    chat_per_token_ms: float = Field(default=12.0, ge=0)
    # sigma of the lognormal factor every service time is multiplied by (mean factor 1)
    tail_sigma: float = Field(default=0.35, ge=0, le=3)
    # requests of one key in service at once; more wait for a slot (a flood gets slower)
    concurrency: int = Field(default=16, gt=0)


class EmbeddingsConfig(_Model):
    default_dimensions: int = Field(default=384, gt=0, le=3072)
    max_inputs: int = Field(default=2048, gt=0)
    max_input_tokens: int = Field(default=8192, gt=0)
    max_request_tokens: int = Field(default=300_000, gt=0)


class ChatConfig(_Model):
    default_max_tokens: int = Field(default=160, gt=0)
    # how many context sentences an answer quotes at most
    max_sentences: int = Field(default=3, gt=0)


class Price(_Model):
    input_per_1m: float = Field(ge=0)
    output_per_1m: float = Field(default=0.0, ge=0)


def _default_prices() -> dict[str, Price]:
    return {
        "text-embedding-3-small": Price(input_per_1m=0.02),
        "text-embedding-3-large": Price(input_per_1m=0.13),
        "gpt-4o-mini": Price(input_per_1m=0.15, output_per_1m=0.60),
        "gpt-4o": Price(input_per_1m=2.50, output_per_1m=10.00),
    }


class ProviderConfig(_Model):
    # keys beyond the defaults (naive, reference, test), each with optional overrides
    keys: dict[str, KeyConfig] = Field(default_factory=dict)
    embeddings_limits: Limits = Limits(rpm=500, tpm=1_000_000)
    chat_limits: Limits = Limits(rpm=500, tpm=200_000)
    # the burst window: each bucket holds ``limit * window / 60 s`` and refills at limit / 60 s.
    # 60 holds a whole minute's budget; real providers enforce over shorter windows (OpenAI:
    # "60,000 RPM may be enforced as 1,000 requests per second"), so a scenario about hitting
    # the limit sets a few seconds
    limits_window_s: float = Field(default=60.0, gt=0, le=60)
    latency: LatencyConfig = LatencyConfig()
    embeddings: EmbeddingsConfig = EmbeddingsConfig()
    chat: ChatConfig = ChatConfig()
    # USD per million tokens; a model not listed is priced like the family's first entry
    prices: dict[str, Price] = Field(default_factory=_default_prices)
    # how many recent requests GET /_stats/requests keeps
    request_log_size: int = Field(default=10_000, ge=0)

    def all_keys(self) -> dict[str, KeyConfig]:
        keys = {k: KeyConfig() for k in DEFAULT_KEYS}
        keys.update(self.keys)
        return keys


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and what is wrong."""


def _env_keys(env: Mapping[str, str]) -> dict[str, KeyConfig]:
    raw = env.get(KEYS_ENV, "")
    return {k.strip(): KeyConfig() for k in raw.split(",") if k.strip()}


def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> ProviderConfig:
    """Defaults, then the file (YAML or JSON) if given, then keys from RAGCHAOS_PROVIDER_KEYS."""
    env = os.environ if env is None else env
    data: dict[str, object] = {}
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}:{where}: not valid YAML/JSON: {problem}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping, not {type(loaded).__name__}")
        data = loaded
    try:
        config = ProviderConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path or 'provider config'}: {problems}") from None
    extra = {k: v for k, v in _env_keys(env).items() if k not in config.keys}
    if extra:
        config = config.model_copy(update={"keys": {**config.keys, **extra}})
    return config
