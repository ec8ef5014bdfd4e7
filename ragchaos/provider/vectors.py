"""Deterministic, lexically meaningful embeddings by feature hashing.

Each text becomes a bag of features: stemmed word unigrams (stopwords down-weighted) and
bigrams of neighbouring content words. Every feature is hashed with BLAKE2b (stable across
processes, unlike ``hash()``) onto two signed slots of a ``dimensions``-long vector, which is
then L2-normalised. Texts that share content words therefore have a high cosine similarity and
unrelated texts sit near zero, which is what retrieval and a semantic cache need to behave as
they would on real embeddings. Same text and dimensions, same vector, in every process.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ragchaos.provider.text import STOPWORDS, stem, words

__all__ = ["DEFAULT_DIMENSIONS", "embed", "encode_base64", "features"]

DEFAULT_DIMENSIONS = 384
_STOPWORD_WEIGHT = 0.25
_BIGRAM_WEIGHT = 0.5
# two slots per feature halve the damage any single hash collision does to a similarity
_SLOT_WEIGHT = 1.0 / np.sqrt(2.0)


@lru_cache(maxsize=131072)
def _feature_hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")


def features(text: str | Sequence[int]) -> list[tuple[str, float]]:
    """The weighted features of one input (a string, or a list of token ids)."""
    if not isinstance(text, str):
        return [(f"#{t}", 1.0) for t in text]
    out: list[tuple[str, float]] = []
    previous: str | None = None
    for w in words(text):
        if w in STOPWORDS:
            out.append((w, _STOPWORD_WEIGHT))
            continue
        s = stem(w)
        out.append((s, 1.0))
        if previous is not None:
            out.append((f"{previous} {s}", _BIGRAM_WEIGHT))
        previous = s
    if not out:  # only punctuation or symbols: still deterministic and distinct per text
        out.append((f"raw:{text}", 1.0))
    return out


def _vector(feats: list[tuple[str, float]], dimensions: int) -> np.ndarray:
    idx: list[int] = []
    val: list[float] = []
    for feature, weight in feats:
        h = _feature_hash(feature)
        w = weight * _SLOT_WEIGHT
        idx.append((h & 0xFFFFFFFF) % dimensions)
        val.append(w if h >> 32 & 1 else -w)
        idx.append((h >> 33 & 0x3FFFFFFF) % dimensions)
        val.append(w if h >> 63 else -w)
    vec = np.bincount(idx, weights=val, minlength=dimensions)
    norm = float(np.sqrt(vec @ vec))
    if norm == 0.0:  # features cancelled out exactly: fall back to one fixed axis
        vec[_feature_hash(feats[0][0]) % dimensions] = 1.0
        norm = 1.0
    out = (vec / norm).astype(np.float32)
    out.flags.writeable = False
    return out


@lru_cache(maxsize=8192)
def _embed_text(text: str, dimensions: int) -> np.ndarray:
    return _vector(features(text), dimensions)


def embed(item: str | Sequence[int], dimensions: int = DEFAULT_DIMENSIONS) -> np.ndarray:
    """The unit-length float32 vector of one input (read-only; cached for repeated texts)."""
    if isinstance(item, str):
        return _embed_text(item, dimensions)
    return _vector(features(item), dimensions)


def encode_base64(vec: np.ndarray) -> str:
    """Little-endian float32 bytes in base64: what the SDK decodes for encoding_format=base64."""
    return base64.b64encode(vec.astype("<f4", copy=False).tobytes()).decode("ascii")
