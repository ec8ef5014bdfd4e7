"""POST /v1/embeddings through the official openai SDK, against the provider process."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from tests.provider.conftest import CONFIG, Provider, start_provider

TEXTS = ["How do I reset my password?", "Retries should back off with jitter.", "ünïcödé and emoji 🚀 text"]


def test_base64_and_float_decode_to_the_same_vectors(prov: Provider) -> None:
    client = prov.client("k1")
    as_b64 = client.embeddings.create(model="text-embedding-3-small", input=TEXTS)  # the SDK's default: base64
    as_float = client.embeddings.create(model="text-embedding-3-small", input=TEXTS, encoding_format="float")
    assert [d.index for d in as_b64.data] == [0, 1, 2]
    for a, b in zip(as_b64.data, as_float.data, strict=True):
        assert len(a.embedding) == 384
        assert a.embedding == b.embedding  # float32 values, bit for bit
        assert np.linalg.norm(a.embedding) == pytest.approx(1.0, abs=1e-5)
    assert as_b64.usage.prompt_tokens == as_b64.usage.total_tokens == sum((len(t) + 3) // 4 for t in TEXTS)


def test_dimensions_single_string_and_token_ids(prov: Provider) -> None:
    client = prov.client("k1")
    one = client.embeddings.create(model="m", input="hello world", dimensions=64)
    assert len(one.data) == 1 and len(one.data[0].embedding) == 64
    ids = client.embeddings.create(model="m", input=[[1, 2, 3], [1, 2, 3]], encoding_format="float")
    assert ids.data[0].embedding == ids.data[1].embedding
    assert ids.usage.prompt_tokens == 6


def test_lexically_similar_texts_are_close(prov: Provider) -> None:
    client = prov.client("k1")
    out = client.embeddings.create(model="m", input=[
        "How do I reset my password for the billing portal?",
        "how can I reset the password of my billing portal account",
        "What is the population of the capital of France?",
    ])
    a, b, c = (np.array(d.embedding) for d in out.data)
    assert a @ b > 0.7
    assert abs(a @ c) < 0.3


def test_vectors_are_the_same_in_another_process(prov: Provider, tmp_path) -> None:
    other = start_provider(tmp_path, CONFIG, name="provider-2", module="ragchaos")  # the other entry point
    try:
        mine = prov.client("k1").embeddings.create(model="m", input=TEXTS)
        theirs = other.client("k1").embeddings.create(model="m", input=TEXTS)
    finally:
        other.process.stop()
    assert [d.embedding for d in mine.data] == [d.embedding for d in theirs.data]


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["ok", "  "]}, "input"),
    ({"input": ["x"] * 2049}, "input"),
    ({"input": "x" * 40_000}, None),  # over the model's input limit: OpenAI's own error has no param
    ({"input": "ok", "dimensions": 0}, "dimensions"),
    ({"input": "ok", "encoding_format": "hex"}, "encoding_format"),
    ({"input": "ok", "extra_body": {"input": {"a": 1}}}, "input"),
    ({"input": "ok", "extra_body": {"input": [1.5, "x"]}}, "input[0]"),
])
def test_bad_input_is_a_400_in_openai_shape(prov: Provider, kwargs: dict, param: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        prov.client("k1").embeddings.create(model="m", **kwargs)
    assert info.value.status_code == 400
    assert info.value.type == "invalid_request_error"
    assert info.value.param == param
    assert info.value.message


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b'{"input": "x"}', b'{"model": 7, "input": "x"}',
                                 b'{"model": "m"}', b"\xff\xfe"])
def test_malformed_requests_get_400_json(prov: Provider, raw: bytes) -> None:
    status, body = prov.call("POST", "/v1/embeddings", raw=raw, headers={"authorization": "Bearer k1"})
    assert status == 400
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_unknown_key_is_401(prov: Provider) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        prov.client("nobody-has-this-key").embeddings.create(model="m", input="x")
    assert info.value.code == "invalid_api_key"
    status, body = prov.call("POST", "/v1/embeddings", {"model": "m", "input": "x"})  # no Authorization at all
    assert status == 401 and body["error"]["type"] == "invalid_request_error"


def test_models_and_unknown_routes(prov: Provider) -> None:
    ids = {m.id for m in prov.client("k1").models.list()}
    assert {"text-embedding-3-small", "gpt-4o-mini"} <= ids
    status, body = prov.call("POST", "/v1/nothing-here", {})
    assert status == 404 and "error" in body
