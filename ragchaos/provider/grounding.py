"""A deterministic answer grounded in the context of the prompt, so answers can be checked.

The question is the text after the last "Question:" in the last user message (or, without that
marker, its last paragraph that carries no source tag). The context is every passage of the
prompt; a passage belongs to the source tag in brackets before it, such as
``[doc-7#2]``. The answer quotes, best first, the context sentences that share the most
content words with the question, each followed by its source tag, up to ``max_sentences``.
When no sentence shares a word with the question the answer is ``NO_ANSWER``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ragchaos.provider.text import content_words

__all__ = ["NO_ANSWER", "Passage", "answer", "has_sources", "passages", "question_of"]

NO_ANSWER = "I could not find the answer in the provided context."

_TAG = re.compile(r"\[([^\[\]\s]{1,200})\]")
_QUESTION = re.compile(r"(?im)^\s*(?:question|q)\s*:\s*")
_ASIDE = re.compile(r"\([^()]*\)")  # a line that is only "(doc 7)" labels a passage, it is not evidence
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True, slots=True)
class Passage:
    source: str | None
    sentence: str


def has_sources(text: str) -> bool:
    return _TAG.search(text) is not None


def question_of(last_user: str) -> tuple[str, str]:
    """Split the last user message into (the context it carries, the question)."""
    marks = list(_QUESTION.finditer(last_user))
    if marks:
        return last_user[: marks[-1].start()], last_user[marks[-1].end():].strip()
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", last_user) if p.strip()]
    untagged = [p for p in paragraphs if not _TAG.search(p)]
    question = (untagged or paragraphs or [last_user])[-1]
    return last_user.replace(question, "", 1), question


def passages(context: str) -> list[Passage]:
    """The sentences of ``context``, each with the source tag it follows (None before any tag)."""
    out: list[Passage] = []
    source: str | None = None
    position = 0
    for m in [*_TAG.finditer(context), None]:
        end = m.start() if m is not None else len(context)
        for sentence in _SENTENCE_END.split(context[position:end]):
            sentence = sentence.strip().lstrip(":-– ").strip()
            if sentence and not _ASIDE.fullmatch(sentence):
                out.append(Passage(source, sentence))
        if m is not None:
            source = m.group(1)
            position = m.end()
    return out


def answer(question: str, context: str, max_sentences: int = 3) -> str:
    """The best ``max_sentences`` sentences of ``context`` for ``question``, with their sources."""
    asked = set(content_words(question))
    candidates = passages(context)
    if any(p.source for p in candidates):
        # with tagged sources, untagged text is instructions or the question itself, not evidence
        candidates = [p for p in candidates if p.source]
    question_norm = question.strip()
    scored = []
    for position, p in enumerate(candidates):
        if p.sentence == question_norm:
            continue
        score = len(asked.intersection(content_words(p.sentence)))
        if score:
            scored.append((-score, position, p))
    scored.sort(key=lambda t: (t[0], t[1]))
    chosen = [p for _, _, p in scored[:max_sentences]]
    if not chosen:
        return NO_ANSWER
    return " ".join(f"{p.sentence} [{p.source}]" if p.source else p.sentence for p in chosen)
