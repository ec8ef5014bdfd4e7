"""Words, token counts and the light normalisation shared by embeddings and chat.

Token counts are an approximation, not a tokenizer: ``ceil(len(text) / 4)`` characters, the
rule of thumb OpenAI documents for English ("one token is about four characters"). It is
cheap, deterministic and close enough for rate limits, usage and cost to behave realistically.
Token-id inputs count one token per id, as the real API does.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["STOPWORDS", "content_words", "count_tokens", "stem", "words"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Function words carry little meaning: down-weighted in embeddings, ignored when grounding.
STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does", "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your"]
)


def count_tokens(text: str) -> int:
    """Approximate token count: one token per four characters, at least one for non-empty text."""
    return (len(text) + 3) // 4


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words (an apostrophe suffix such as "'s" is kept on the word)."""
    return _WORD.findall(text.lower())


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "edly", "ed", "es", "ly", "er", "s")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A very light suffix stripper so "retries", "retrying" and "retried" meet at "retr".

    Not Porter: just enough that inflected forms of one word share a feature. Cached because
    the vocabulary of a run is small and this runs for every word of every request.
    """
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # "cache"/"caching", "retry"/"retrying": drop a final e or y once the suffix is gone
    if len(word) > 3 and word[-1] in "ey":
        word = word[:-1]
    return word


def content_words(text: str) -> list[str]:
    """Stemmed words of ``text`` without stopwords: what grounding compares."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]
