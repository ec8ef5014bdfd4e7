"""Schemathesis against the provider process, from its hand-written OpenAPI (ragchaos/provider/openapi.yaml).

The provider is raw ASGI with no generated schema, so the document is written by hand; the
fuzz checks both ways: the provider never answers a server error, and its answers (and errors,
in OpenAI's shape) match what the document says.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis

from tests.security.fuzz import fuzz

CASES = int(os.environ.get("RAGCHAOS_FUZZ_CASES", "1000"))
SCHEMA = Path(__file__).resolve().parents[2] / "ragchaos" / "provider" / "openapi.yaml"


@pytest.mark.slow
def test_provider_schema_fuzz(provider) -> None:
    import httpx

    schema = schemathesis.openapi.from_path(str(SCHEMA))
    # rate limits off for the fuzz (a 429 is documented, but it would hide what the input did)
    httpx.put(f"{provider.url}/_control/limits", json={"enforced": False}).raise_for_status()
    try:
        result = fuzz(schema, provider.url, cases=CASES, headers={"Authorization": "Bearer key-200"})
    finally:
        httpx.put(f"{provider.url}/_control/limits", json={"enforced": True}).raise_for_status()
    print("provider", result.cases, dict(result.statuses), dict(result.operations))
    assert result.cases >= CASES
    assert result.server_errors == [], "\n".join(result.server_errors[:5])
    assert result.statuses[200] > CASES // 10 and any(400 <= s < 500 for s in result.statuses)
