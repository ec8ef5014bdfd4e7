"""The runner's provider calls around seeding: limits lifted while the corpus loads, then enforced
and every key's buckets refilled, so the load starts on the same full budget for every app."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from ragchaos.scenarios.seed import SeedError, enforce_provider_limits, reset_provider_limits
from tests.provider.conftest import Provider, start_provider

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    config = {"embeddings_limits": {"rpm": 60, "tpm": 1_000_000}, "limits_window_s": 5,
              "latency": {"enabled": False}}
    server = start_provider(tmp_path_factory.mktemp("seedlimits"), config)
    try:
        yield server
    finally:
        server.process.stop()


def _embed(url: str, key: str) -> tuple[int, dict[str, str]]:
    req = urllib.request.Request(f"{url}/v1/embeddings", method="POST",
                                 data=json.dumps({"model": "text-embedding-3-small", "input": "x"}).encode(),
                                 headers={"content-type": "application/json", "authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers)


def test_seeding_spends_no_budget_and_the_load_starts_on_full_buckets(provider: Provider) -> None:
    # a 5 s window of 60 RPM holds 5 requests: 12 in a row would meet 429s if enforced
    enforce_provider_limits(provider.url, False)
    try:
        assert all(_embed(provider.url, "naive")[0] == 200 for _ in range(12))
    finally:
        enforce_provider_limits(provider.url, True)
    statuses = [_embed(provider.url, "reference")[0] for _ in range(20)]
    assert 429 in statuses  # enforced again: 5 in the window, 1 a second refilled
    for key in ("naive", "reference"):
        reset_provider_limits(provider.url, key)
    for key in ("naive", "reference"):
        status, headers = _embed(provider.url, key)
        assert status == 200 and headers["x-ratelimit-remaining-requests"] == "4"


def test_an_unknown_key_is_a_seed_error(provider: Provider) -> None:
    with pytest.raises(SeedError, match="nobody"):
        reset_provider_limits(provider.url, "nobody")
