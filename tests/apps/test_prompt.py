"""The prompt is deterministic, grounded in the passages in order, and bounded."""

from __future__ import annotations

from ragchaos.kit.prompt import MAX_CONTEXT_CHARS, SYSTEM_PROMPT, Passage, build_messages


def test_messages_number_passages_in_order() -> None:
    msgs = build_messages("What is X?", [Passage("d1", "c1", "first"), Passage("d2", "c2", "second")])
    assert msgs[0] == {"role": "system", "content": SYSTEM_PROMPT}
    user = msgs[1]["content"]
    assert user.index("[1] (doc d1)\nfirst") < user.index("[2] (doc d2)\nsecond")
    assert user.endswith("Question: What is X?")


def test_no_passages_is_said_explicitly() -> None:
    assert "(no passages found)" in build_messages("q", [])[1]["content"]


def test_context_is_capped() -> None:
    huge = [Passage(f"d{i}", f"c{i}", "x" * 5000) for i in range(5)]
    user = build_messages("q", huge)[1]["content"]
    assert len(user) < MAX_CONTEXT_CHARS + 200


def test_same_input_same_messages() -> None:
    ps = [Passage("d", "c", "text")]
    assert build_messages("q", ps) == build_messages("q", ps)
