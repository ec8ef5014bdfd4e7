"""Deterministic, overlapping chunking shared by both apps.

Both apps cut a document the same way, so on a healthy system they index the same chunks and
return the same sources. A window is ``CHUNK_WORDS`` words long and the next one starts
``CHUNK_WORDS - OVERLAP_WORDS`` words later; the overlap keeps a sentence that straddles a
boundary retrievable from either side. A chunk's text is the original slice of the document
(whitespace inside it untouched), so what the model quotes is what the user wrote.

Chunk ids are a hash of (tenant, doc_id, chunk text): re-ingesting the same document yields
the same ids, which makes a retried ingest job an idempotent upsert rather than a duplicate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["CHUNK_WORDS", "OVERLAP_WORDS", "Chunk", "chunk_id", "chunk_text"]

CHUNK_WORDS = 64
OVERLAP_WORDS = 12

_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int  # position in the document, 0-based
    text: str
    start: int  # character offsets into the document
    end: int


def chunk_text(text: str, words: int = CHUNK_WORDS, overlap: int = OVERLAP_WORDS) -> list[Chunk]:
    """Cut ``text`` into windows of ``words`` words overlapping by ``overlap`` words."""
    if words < 1:
        raise ValueError("words must be >= 1")
    if not 0 <= overlap < words:
        raise ValueError("overlap must be in [0, words)")
    spans = [m.span() for m in _WORD.finditer(text)]
    chunks: list[Chunk] = []
    step = words - overlap
    first = 0
    while first < len(spans):
        last = min(first + words, len(spans)) - 1
        start, end = spans[first][0], spans[last][1]
        chunks.append(Chunk(index=len(chunks), text=text[start:end], start=start, end=end))
        if last == len(spans) - 1:
            break
        first += step
    return chunks


def chunk_id(tenant: str, doc_id: str, text: str) -> str:
    """Stable id for a chunk: the same tenant, document and content always give the same id."""
    h = hashlib.sha256()
    for part in (tenant, doc_id, text):
        data = part.encode("utf-8")
        # length-prefixed so ("ab", "c") and ("a", "bc") never collide
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:32]
