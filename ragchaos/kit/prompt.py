"""Prompt assembly from the top-k chunks, shared by both apps.

The same question and the same passages give the same messages byte for byte in either app,
which is what lets a scenario compare their answers. ``PROMPT_VERSION`` is a hash of
everything that shapes the prompt; caches put it in their keys so a prompt change never serves
an answer written for the old one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = [
    "CHAT_MODEL",
    "EMBED_MODEL",
    "MAX_CONTEXT_CHARS",
    "MAX_ANSWER_TOKENS",
    "PROMPT_VERSION",
    "SYSTEM_PROMPT",
    "TEMPERATURE",
    "Passage",
    "build_messages",
    "estimate_tokens",
]

EMBED_MODEL = "text-embedding-3-small"
CHAT_MODEL = "gpt-4o-mini"
TEMPERATURE = 0.0
MAX_ANSWER_TOKENS = 256
# the context is cut here so a few huge chunks cannot blow the model's window or the TPM budget
MAX_CONTEXT_CHARS = 8_000

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages provided. "
    "Cite passages as [n]. If the passages do not contain the answer, say you do not know."
)


@dataclass(frozen=True, slots=True)
class Passage:
    doc_id: str
    chunk_id: str
    text: str


def build_messages(question: str, passages: Sequence[Passage]) -> list[ChatCompletionMessageParam]:
    """Chat messages for ``question`` grounded in ``passages`` (best first), in the SDK's own
    message type so either app hands them to ``chat.completions.create`` as they are."""
    parts: list[str] = []
    used = 0
    for n, p in enumerate(passages, start=1):
        block = f"[{n}] (doc {p.doc_id})\n{p.text.strip()}"
        if used + len(block) > MAX_CONTEXT_CHARS:
            block = block[: max(0, MAX_CONTEXT_CHARS - used)]
        if not block:
            break
        parts.append(block)
        used += len(block)
    context = "\n\n".join(parts) if parts else "(no passages found)"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Passages:\n{context}\n\nQuestion: {question.strip()}"},
    ]


def estimate_tokens(text: str) -> int:
    """Rough token count (4 characters a token), used to pace toward a TPM limit."""
    return len(text) // 4 + 1


PROMPT_VERSION = hashlib.sha256(
    "\x00".join([SYSTEM_PROMPT, EMBED_MODEL, CHAT_MODEL, str(TEMPERATURE), str(MAX_ANSWER_TOKENS),
                 str(MAX_CONTEXT_CHARS)]).encode()
).hexdigest()[:12]
