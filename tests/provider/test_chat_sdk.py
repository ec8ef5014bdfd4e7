"""POST /v1/chat/completions, plain and streamed, through the official openai SDK."""

from __future__ import annotations

import openai
import pytest

from tests.provider.conftest import Provider

PROMPT = """Answer from the context only and cite the sources.

Context:
[guide-1#0] Exponential backoff doubles the wait after every failed attempt. Jitter spreads retries out.
[guide-2#4] A circuit breaker opens after repeated failures. It stops calls to a failing dependency.
[faq-9#1] Paris is the capital of France.

Question: What does a circuit breaker do after repeated failures?"""

MESSAGES = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": PROMPT}]


def test_answer_is_grounded_in_the_context_and_cites_sources(prov: Provider) -> None:
    out = prov.client("k2").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    text = out.choices[0].message.content
    assert text is not None
    assert text.startswith("A circuit breaker opens after repeated failures. [guide-2#4]")
    assert "Paris" not in text
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.completion_tokens == (len(text) + 3) // 4
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    again = prov.client("k2").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert again.choices[0].message.content == text  # deterministic


def test_max_tokens_limits_the_output(prov: Provider) -> None:
    client = prov.client("k2")
    out = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    assert out.choices[0].finish_reason == "length"
    assert out.usage is not None and out.usage.completion_tokens <= 5
    assert len(out.choices[0].message.content or "") <= 20
    newer = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_completion_tokens=3)
    assert newer.usage is not None and newer.usage.completion_tokens <= 3


def test_stream_parses_with_usage(prov: Provider) -> None:
    client = prov.client("k2")
    whole = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.usage is None for c in chunks[:-1])
    plain = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in plain) and plain[-1].choices[0].finish_reason == "stop"


def test_no_matching_context_says_so(prov: Provider) -> None:
    out = prov.client("k2").chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "[a#1] Cats sleep a lot.\n\nQuestion: zebra stripes?"}])
    assert out.choices[0].message.content == "I could not find the answer in the provided context."


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"messages": MESSAGES, "max_tokens": 0}, "max_tokens"),
    ({"messages": MESSAGES, "extra_body": {"stream": "yes"}}, "stream"),
])
def test_bad_chat_input_is_a_400(prov: Provider, kwargs: dict, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        prov.client("k2").chat.completions.create(model="gpt-4o-mini", **kwargs)
    assert info.value.param == param


def test_missing_model_is_a_400(prov: Provider) -> None:
    status, body = prov.call("POST", "/v1/chat/completions", {"messages": MESSAGES},
                             headers={"authorization": "Bearer k2"})
    assert status == 400 and "model" in body["error"]["message"]


@pytest.mark.parametrize(("param", "value", "code"), [
    ("temperature", 5, "decimal_above_max_value"),
    ("temperature", -0.5, "decimal_below_min_value"),
    ("top_p", 1.5, "decimal_above_max_value"),
    ("presence_penalty", -3, "decimal_below_min_value"),
    ("frequency_penalty", 2.5, "decimal_above_max_value"),
    ("top_logprobs", 21, "integer_above_max_value"),
    ("temperature", "hot", "invalid_type"),
])
def test_out_of_range_parameters_are_400_as_openai_answers(prov: Provider, param: str, value, code: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        prov.client("k2").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, **{param: value})
    assert info.value.status_code == 400
    assert info.value.type == "invalid_request_error"
    assert (info.value.param, info.value.code) == (param, code)
    assert f"'{param}'" in info.value.message


def test_edge_values_are_taken(prov: Provider) -> None:
    out = prov.client("k2").chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=2, top_p=0,
                                                    presence_penalty=-2, frequency_penalty=2)
    assert out.choices[0].message.content
