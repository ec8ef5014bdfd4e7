"""A small deterministic corpus: documents of known chunk counts on distinct topics."""

from __future__ import annotations

import random

from ragchaos.kit.chunking import CHUNK_WORDS, OVERLAP_WORDS

TOPICS = {
    "refunds": "refund policy returns within thirty days receipt purchase money back store credit",
    "shipping": "shipping free orders above fifty euros courier delivery parcel tracking warehouse",
    "lighthouse": "lighthouse keeper weather log barometer storm warning lamp fog horn tuesday",
    "garden": "garden tomatoes compost watering seedlings greenhouse soil spring harvest pruning",
    "astronomy": "telescope nebula galaxy orbit planet comet eclipse observatory star cluster",
}


def words_for_chunks(n_chunks: int) -> int:
    """How many words make exactly ``n_chunks`` chunks."""
    return CHUNK_WORDS + (n_chunks - 1) * (CHUNK_WORDS - OVERLAP_WORDS)


def document(topic: str, n_chunks: int, seed: int) -> str:
    """A document about ``topic`` that chunks into exactly ``n_chunks`` distinct chunks."""
    rng = random.Random(f"{topic}-{seed}")
    vocab = TOPICS[topic].split()
    out = []
    for i in range(words_for_chunks(n_chunks)):
        # a numbered filler word makes every window's text unique (so no chunk ids collapse)
        out.append(rng.choice(vocab) if i % 4 else f"{topic[:3]}{seed}x{i}")
    return " ".join(out)
