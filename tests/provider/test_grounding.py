"""The grounded answer: the best context sentences for the question, with their source tags."""

from __future__ import annotations

from ragchaos.provider.grounding import NO_ANSWER, answer, passages, question_of

CONTEXT = """[a#0] The warranty covers parts for two years. Labour is covered for one year.
[b#3] Returns are accepted within 30 days of delivery.
[c#1] Shipping to Norway takes five days."""


def test_best_sentences_first_with_sources() -> None:
    assert answer("How long does the warranty cover parts?", CONTEXT, 1) == \
        "The warranty covers parts for two years. [a#0]"
    out = answer("How many days for returns and shipping?", CONTEXT, 3)
    assert out.split(" [")[0] in {"Returns are accepted within 30 days of delivery.", "Shipping to Norway takes five days."}
    assert "[b#3]" in out and "[c#1]" in out and "[a#0]" not in out


def test_no_overlap_gives_the_fixed_answer() -> None:
    assert answer("zebra?", CONTEXT) == NO_ANSWER


def test_question_marker_and_untagged_context() -> None:
    context, question = question_of("Use the context.\n\n[x#1] Cats purr.\n\nQuestion: Do cats purr?")
    assert question == "Do cats purr?" and "Cats purr." in context
    context, question = question_of("Plain text about owls.\n\nWhat do owls eat?")
    assert question == "What do owls eat?"
    assert [p.source for p in passages("before [s#1] after")] == [None, "s#1"]
    assert answer("what about owls", "Owls hunt at night. Fish swim.") == "Owls hunt at night."


def test_instructions_and_passage_labels_are_not_evidence() -> None:
    from ragchaos.provider.chat import complete, parse_request
    from ragchaos.provider.config import ChatConfig

    system = "You answer questions using only the numbered passages provided."
    no_passages = {"model": "m", "messages": [
        {"role": "system", "content": system},
        {"role": "user", "content": "Passages:\n(no passages found)\n\nQuestion: which questions do you answer?"}]}
    assert complete(parse_request(no_passages, ChatConfig()), ChatConfig()).text == NO_ANSWER
    labelled = "Passages:\n[1] (doc d-7)\nThe d-7 vault keeps backups.\n\nQuestion: which doc is d-7 vault?"
    assert answer("which doc is d-7 vault?", labelled.split("Question:")[0]) == "The d-7 vault keeps backups. [1]"
