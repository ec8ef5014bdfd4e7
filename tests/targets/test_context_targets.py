"""The load users' shared context speaks to each target by its template and scores by its sources."""

from __future__ import annotations

import json
from pathlib import Path

from ragchaos.scenarios.context import RunContext
from ragchaos.scenarios.loader import load_scenario
from ragchaos.scenarios.options import RunOptions, prepare_scenario
from ragchaos.scenarios.requests import RequestSource, RequestSpec, Workbench

ROOT = Path(__file__).resolve().parents[2]


def _ctx() -> tuple[RunContext, RequestSpec]:
    scenario = prepare_scenario(load_scenario("smoke"), RunOptions(
        targets_file=ROOT / "examples" / "myrag" / "ragchaos.yaml", apps=["myrag", "reference"]))
    bench = Workbench(scenario)
    ctx = RunContext(bench, {"myrag": "http://127.0.0.1:1", "reference": "http://127.0.0.1:2"}, t0=1000.0,
                     clock=lambda: 1000.0)
    source = RequestSource(bench, "t")
    spec = source.next()
    while spec.question is None:
        spec = source.next()
    return ctx, spec


def test_each_target_gets_its_own_request_shape() -> None:
    ctx, spec = _ctx()
    assert spec.question is not None
    assert ctx.request("myrag", spec) == ("POST", "/ask", {"q": spec.question.text, "user": spec.tenant}, {})
    method, path, body, _ = ctx.request("reference", spec)
    assert (method, path) == ("POST", "/v1/query") and body["question"] == spec.question.text


def test_retrieval_is_scored_from_the_targets_sources_path() -> None:
    ctx, spec = _ctx()
    assert spec.question is not None
    hit = json.dumps({"text": "x", "docs": [{"id": "other"}, {"id": spec.question.source_doc_id}]})
    miss = json.dumps({"text": "x", "docs": [{"id": "other"}]})
    ours_style = json.dumps({"answer": "x", "sources": [{"doc_id": spec.question.source_doc_id}]})
    for body in (hit, miss, ours_style):
        ctx.finish("myrag", spec, intended=None, actual=1000.0, end=1000.5, status=200, body=body)
    ctx.finish("reference", spec, intended=None, actual=1000.0, end=1000.5, status=200, body=ours_style)
    assert (ctx.tally["myrag"].scored, ctx.tally["myrag"].hits) == (3, 1)  # docs[*].id, not sources
    assert (ctx.tally["reference"].scored, ctx.tally["reference"].hits) == (1, 1)


def test_time_to_first_token_is_recorded_for_answered_streams_only() -> None:
    ctx, spec = _ctx()
    ctx.finish("reference", spec, intended=None, actual=1000.0, end=1000.5, status=200, body=b"data: x", ttft=0.1)
    ctx.finish("reference", spec, intended=None, actual=1000.0, end=1000.5, status=503, body=b"{}", ttft=0.1)
    ttft = ctx.recorder.client_stats("reference", ctx.phase_at(1000.0)).latency.ttft
    assert ttft is not None and ttft.count == 1 and 99_000 <= ttft.p50_us <= 101_000
