"""A document with a chunk over the embedding model's limit: the naive app answers its caller
with the provider's own error (a 502 naming the provider, the 400's message inside), not a 500.

The naive app has no queue and no dead letters: the caller learns at once and the document is
not indexed; what the reference app does instead is in tests/scaleout/test_poison_ingest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ragchaos.stack.local import Endpoint, ToxiproxyHandle
from tests.apps.helpers import launch, new_tenant, provider_count
from tests.reliability.poison import POISON_BLOB

pytestmark = pytest.mark.slow


def test_an_oversized_chunk_is_the_providers_400_passed_to_the_caller(
    provider: Endpoint, chroma: Endpoint, toxiproxy: ToxiproxyHandle, session_dir: Path
) -> None:
    app = launch("naive", provider, chroma, toxiproxy, session_dir)
    try:
        before = provider_count(provider, app.key)
        with app.client() as c:
            r = c.post("/v1/documents", json={"tenant": new_tenant(), "doc_id": "blob",
                                              "text": f"a pasted image {POISON_BLOB}"})
    finally:
        app.stop()
    assert r.status_code == 502, r.text
    error = r.json()["error"]
    assert error["type"] == "provider_error" and "BadRequestError" in error["message"]
    assert "maximum context length is 8192 tokens" in error["message"]
    assert provider_count(provider, app.key) - before == 1  # one chunk (three words), refused once: no retry
