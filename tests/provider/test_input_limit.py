"""The embedding model's input limit (8,192 tokens for text-embedding-3-*), as OpenAI answers it.

An input over the limit is a 400 ``invalid_request_error`` with OpenAI's own message; the SDK
raises ``BadRequestError`` and, since it is a 400, does not retry it. ``PUT
/_control/input-limit`` changes the limit at run time (how a harness removes the cause).
"""

from __future__ import annotations

import openai
import pytest

from tests.provider.conftest import Provider

LIMIT = 8192


def _text(tokens: int) -> str:
    return "x" * (tokens * 4)  # the provider counts one token per four characters


def test_an_input_over_8192_tokens_is_openais_400_and_not_retried(prov: Provider) -> None:
    client = prov.client("k1", max_retries=2)
    before = prov.stats("k1").get("requests", 0)
    assert len(client.embeddings.create(model="text-embedding-3-small", input=[_text(LIMIT)]).data) == 1
    with pytest.raises(openai.BadRequestError) as raised:
        client.embeddings.create(model="text-embedding-3-small", input=["fine", _text(LIMIT + 1)])
    err = raised.value
    assert err.status_code == 400 and err.type == "invalid_request_error" and err.code is None and err.param is None
    assert isinstance(err.body, dict) and err.body["message"] == (f"This model's maximum context length is {LIMIT} tokens, however you requested "
                           f"{LIMIT + 1} tokens ({LIMIT + 1} in your prompt; 0 for the completion). Please reduce "
                           "your prompt; or completion length.")
    assert prov.stats("k1").get("requests", 0) - before == 2  # the 400 was sent once: no SDK retry


def test_the_limit_can_be_raised_at_run_time_and_bad_values_are_refused(prov: Provider) -> None:
    assert prov.call("GET", "/_control/input-limit") == (200, {"max_input_tokens": LIMIT})
    try:
        assert prov.call("PUT", "/_control/input-limit", {"max_input_tokens": 2 * LIMIT})[0] == 200
        out = prov.client("k1").embeddings.create(model="text-embedding-3-small", input=[_text(LIMIT + 1)])
        assert len(out.data) == 1
    finally:
        prov.call("PUT", "/_control/input-limit", {"max_input_tokens": LIMIT})
    for bad in ({"max_input_tokens": 0}, {"max_input_tokens": "9000"}, {"max_input_tokens": True}, [], {}):
        status, body = prov.call("PUT", "/_control/input-limit", bad)
        assert status == 400 and "max_input_tokens" in body["error"]["message"], (bad, body)
