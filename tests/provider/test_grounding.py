"""The grounded answer: the best context sentences for the question, with their source tags."""

from __future__ import annotations

from provider.grounding import NO_ANSWER, answer, passages, question_of

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
