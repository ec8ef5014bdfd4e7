"""Request templates: rendering placeholders, unknown placeholders, sources extraction."""

from __future__ import annotations

import pytest

from ragchaos.scenarios.requests import RequestSpec
from ragchaos.stack.targets import BUILTIN_TARGETS, Target, TargetError, parse_target_arg
from ragchaos.stack.templates import (
    INGEST_PLACEHOLDERS,
    QUERY_PLACEHOLDERS,
    JsonPathError,
    RequestTemplate,
    extract,
    parse_json_path,
)


def test_a_whole_placeholder_keeps_its_type_and_a_partial_one_is_formatted() -> None:
    t = RequestTemplate(method="PUT", path="/t/{tenant}/ask", body={"q": "{question}", "k": "{top_k}",
                        "s": "{stream}", "note": "k={top_k} {{literal}}", "list": ["{tenant}"]},
                        headers={"X-Tenant": "{tenant}"})
    method, path, body, headers = t.render({"question": "why?", "tenant": "acme", "top_k": 4, "stream": True})
    assert (method, path) == ("PUT", "/t/acme/ask")
    assert body == {"q": "why?", "k": 4, "s": True, "note": "k=4 {literal}", "list": ["acme"]}
    assert headers == {"X-Tenant": "acme"}


def test_unknown_placeholders_are_named_with_where_they_are() -> None:
    t = RequestTemplate(path="/ask/{tenant}", body={"q": "{query}", "x": "{text}"}, headers={"A": "{nope}"})
    problems = t.problems(QUERY_PLACEHOLDERS)
    assert [(p, m.split(";")[0]) for p, m in problems] == [
        (("body",), "unknown placeholder {query}"),
        (("body",), "unknown placeholder {text}"),  # a document's text is not in a query
        (("headers",), "unknown placeholder {nope}"),
    ]
    assert "{question}" in problems[0][1]  # the message lists what is known
    assert RequestTemplate(path="/docs", body={"t": "{text}", "id": "{doc_id}"}).problems(INGEST_PLACEHOLDERS) == []


@pytest.mark.parametrize(("path", "data", "expected"), [
    ("sources[*].doc_id", {"sources": [{"doc_id": "a"}, {"doc_id": "b"}, {"x": 1}]}, ["a", "b"]),
    ("$.docs[*].id", {"docs": [{"id": "d1"}]}, ["d1"]),
    ("answer.refs[0]", {"answer": {"refs": ["r0", "r1"]}}, ["r0"]),
    ("answer.refs[-1]", {"answer": {"refs": ["r0", "r1"]}}, ["r1"]),
    ("missing[*].id", {"docs": []}, []),
    ("docs[*]", {"docs": ["x", "y"]}, ["x", "y"]),
])
def test_json_paths_extract_every_value(path: str, data: object, expected: list[object]) -> None:
    assert extract(data, path) == expected


def test_a_malformed_json_path_is_an_error() -> None:
    with pytest.raises(JsonPathError, match="cannot read"):
        parse_json_path("docs[?].id")
    assert RequestTemplate(path="/a", sources="docs[x]").problems(QUERY_PLACEHOLDERS)


def test_sources_and_degraded_from_an_answer() -> None:
    t = RequestTemplate(path="/ask", sources="docs[*].id", degraded="meta.degraded")
    assert t.source_ids({"docs": [{"id": "a"}, {"id": 7}]}) == ["a", "7"]
    assert t.is_degraded({"meta": {"degraded": True}}) and not t.is_degraded({"meta": {}})
    assert RequestTemplate(path="/ask").source_ids({"docs": []}) is None  # not scored


def test_our_apps_are_described_by_templates_that_render_their_api() -> None:
    from ragchaos.scenarios.corpus import Corpus

    corpus = Corpus.generate(1, ["acme"], 2, 30)
    doc = corpus.documents[0]
    spec = RequestSpec("ingest", doc.tenant, document=doc)
    method, path, body, _ = spec.render("reference", BUILTIN_TARGETS["reference"].ingest, 4)
    assert (method, path) == ("POST", "/v1/documents") and body == doc.body()
    for name, target in BUILTIN_TARGETS.items():
        assert target.builtin == name and target.problems() == []


def test_target_arg_parses_a_command_or_a_url_and_refuses_nonsense() -> None:
    name, fields = parse_target_arg('mine=uvicorn myrag:app --port {port}', {})
    target = Target.model_validate(fields)
    assert name == "mine" and target.argv(5000)[-1] == "5000" and target.query.path == "/v1/query"
    _, fields = parse_target_arg("mine=http://127.0.0.1:8000", {"mine": target})
    assert Target.model_validate(fields).url == "http://127.0.0.1:8000"
    for bad in ("mine", "=x", "Bad Name=x"):
        with pytest.raises(TargetError):
            parse_target_arg(bad, {})
    no_port = Target.model_validate(parse_target_arg("mine=uvicorn myrag:app", {})[1])
    assert any("{port}" in m for _, m in no_port.problems())
    remote = Target.model_validate(parse_target_arg("mine=http://10.0.0.1:80", {})[1])
    assert any("loopback" in m for _, m in remote.problems())
