"""Embedding vectors: deterministic, unit length, and close when texts share words."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from ragchaos.provider.text import count_tokens, stem
from ragchaos.provider.vectors import embed, encode_base64


def cos(a: str, b: str, dims: int = 384) -> float:
    return float(embed(a, dims) @ embed(b, dims))


def test_unit_length_and_deterministic() -> None:
    v = embed("The quick brown fox", 384)
    assert v.dtype == np.float32 and v.shape == (384,)
    assert float(np.linalg.norm(v)) == pytest.approx(1.0, abs=1e-6)
    assert np.array_equal(v, embed("The quick brown fox", 384))
    assert not np.array_equal(v, embed("The quick brown cat", 384))
    assert embed("!!!", 8).shape == (8,)  # no words at all still gives a vector


PARAPHRASES = [
    ("How do I reset my password?", "how can I reset the password"),
    ("What is the refund policy for cancelled orders?", "refund policy when an order is cancelled"),
    ("Retries should use exponential backoff", "retrying with exponential backoff"),
    ("Which regions store customer data?", "regions where customer data is stored"),
]
UNRELATED = [
    ("How do I reset my password?", "What is the capital of France?"),
    ("What is the refund policy for cancelled orders?", "GPU memory bandwidth benchmarks"),
    ("Retries should use exponential backoff", "Chocolate cake recipe with berries"),
]


def test_paraphrases_are_much_closer_than_unrelated_texts() -> None:
    para = [cos(a, b) for a, b in PARAPHRASES]
    unrel = [cos(a, b) for a, b in UNRELATED]
    assert min(para) > 0.6
    assert max(abs(u) for u in unrel) < 0.25
    assert cos("reset password", "reset password please") > cos("reset password", "reset the modem")


def test_base64_is_little_endian_float32() -> None:
    v = embed("hello world", 16)
    decoded = np.frombuffer(base64.b64decode(encode_base64(v)), dtype="<f4")
    assert np.array_equal(decoded, v)


def test_token_ids_and_light_stemming() -> None:
    assert np.array_equal(embed([5, 6, 7], 32), embed([5, 6, 7], 32))
    assert stem("retries") == stem("retrying") == stem("retried") == stem("retry")
    assert stem("caching") == stem("cached") == stem("cache")
    assert count_tokens("abcd") == 1 and count_tokens("abcde") == 2 and count_tokens("") == 0
