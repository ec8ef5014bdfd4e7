"""The OTLP/HTTP receiver: real exporter output (protobuf and JSON), span rules, phases."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragchaos.stack.otlp import OtlpReceiver, SpanRecord, SpanRules, decode_traces


def _spans(names_us: list[tuple[str, int]], service: str = "mine") -> list:  # ReadableSpan
    """Finished SDK spans with exact start/end times (no real clock)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    t = 1_700_000_000_000_000_000
    for name, us in names_us:
        span = tracer.start_span(name, start_time=t)
        span.end(end_time=t + us * 1000)
        t += 10_000_000
    return list(memory.get_finished_spans())


def test_decodes_the_real_exporters_protobuf_and_its_json_form() -> None:
    spans = _spans([("embed question", 1500), ("vector.search", 300)])
    message = encode_spans(spans)  # what OTLPSpanExporter serialises and posts
    from_pb = decode_traces(message.SerializeToString(), "application/x-protobuf")
    as_json = json.dumps(MessageToDict(message)).encode()  # OTLP/JSON: camelCase, int64 as strings
    from_json = decode_traces(as_json, "application/json")
    for got in (from_pb, from_json):
        assert [(s.service, s.name, s.duration_us) for s in got] == [
            ("mine", "embed question", 1500.0), ("mine", "vector.search", 300.0)]


def test_bad_bodies_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not an ExportTraceServiceRequest"):
        decode_traces(b"\xff\xff\xff", "application/x-protobuf")
    with pytest.raises(ValueError, match="not JSON"):
        decode_traces(b"{", "application/json")
    with pytest.raises(ValueError, match="unsupported content type"):
        decode_traces(b"", "text/plain")


def test_rules_first_match_wins_and_unmatched_rules_are_named() -> None:
    rules = SpanRules({"embed*": "query.embed", "*": "query.other", "never*": "query.x"})
    assert rules.stage("embed question") == "query.embed" and rules.stage("llm") == "query.other"
    assert rules.unmatched() == ["'never*'"]


RUN = "haystack.component.run"


def _span(name: str, error: bool = False, start_s: float = 100.0, **attrs: object) -> SpanRecord:
    return SpanRecord("svc", name, int(start_s * 1e9), int(start_s * 1e9) + 5_000_000, attrs, error)


def test_rules_match_attributes_by_equality_prefix_and_regex() -> None:
    rules = SpanRules([
        {"name": RUN, "attributes": {"haystack.component.name": "text_embedder"}, "stage": "query.embed"},
        {"name": RUN, "attributes": {"haystack.component.name": {"prefix": "retriever"}}, "stage": "query.retrieve"},
        {"name": "*", "attributes": {"haystack.component.type": {"regex": "Generator$"}}, "stage": "query.generate"},
        {"name": RUN, "attributes": {"haystack.component.visits": 2}, "stage": "query.second"},
        {"name": "haystack.pipeline.run", "stage": "query.total"},
        {"name": RUN, "attributes": {"haystack.component.name": "reranker"}, "stage": "query.rerank"},
    ])
    assert rules.stage(_span(RUN, **{"haystack.component.name": "text_embedder"})) == "query.embed"
    assert rules.stage(_span(RUN, **{"haystack.component.name": "retriever_chroma"})) == "query.retrieve"
    assert rules.stage(_span(RUN, **{"haystack.component.name": "llm",
                                     "haystack.component.type": "OpenAIGenerator"})) == "query.generate"
    assert rules.stage(_span(RUN, **{"haystack.component.visits": 2})) == "query.second"  # int equality
    assert rules.stage(_span(RUN, **{"haystack.component.name": "prompt_builder"})) is None
    assert rules.stage(_span("haystack.pipeline.run")) == "query.total"
    assert rules.unmatched() == ["'haystack.component.run' [haystack.component.name=reranker]"]


def test_bad_attribute_rules_are_refused() -> None:
    from pydantic import ValidationError

    for bad in ({"prefix": "a", "regex": "b"}, {}, {"regex": "("}, {"contains": "x"}):
        with pytest.raises(ValidationError):
            SpanRules([{"name": RUN, "attributes": {"k": bad}, "stage": "query.x"}])


def test_spans_are_phased_by_start_and_error_spans_counted_apart() -> None:
    receiver = OtlpReceiver({"svc": [{"name": RUN, "attributes": {"c": "emb"}, "stage": "query.embed"}]})
    try:
        receiver.phase_of = lambda t: "steady" if t < 200 else "fault"
        # starts in steady, ends long after 200 s: steady's, like a request sent then
        late = SpanRecord("svc", RUN, int(199.0 * 1e9), int(260.0 * 1e9), {"c": "emb"})
        receiver.add([late, _span(RUN, start_s=210, c="emb"), _span(RUN, error=True, start_s=211, c="emb"),
                      _span(RUN, start_s=212, c="other")])
        hists = receiver.take()
        assert hists[("svc", "steady")]["query.embed"].count == 1
        assert hists[("svc", "fault")]["query.embed"].count == 1  # the error span is not a duration
        assert receiver.take_errors() == {("svc", "fault"): {"query.embed": 1}}
        assert receiver.seen_values("svc") == {"c": ["emb", "other"]}
    finally:
        receiver._server.server_close()


def test_attributes_and_status_come_through_protobuf_and_json() -> None:
    from opentelemetry.trace import Status, StatusCode

    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    span = provider.get_tracer("t").start_span(RUN, attributes={"haystack.component.name": "retriever", "n": 3})
    span.set_status(Status(StatusCode.ERROR, "boom"))
    span.end()
    message = encode_spans(list(memory.get_finished_spans()))
    for got in (decode_traces(message.SerializeToString(), "application/x-protobuf"),
                decode_traces(json.dumps(MessageToDict(message)).encode(), "application/json")):
        [record] = got
        assert record.attributes["haystack.component.name"] == "retriever" and record.error
        assert int(record.attributes["n"]) == 3


def test_the_receiver_takes_the_sdk_exporters_posts_and_phases_spans() -> None:
    with OtlpReceiver({"mine": {"embed*": "query.embed", "vector.search": "query.retrieve"}}) as receiver:
        start = 1_700_000_000.0
        receiver.phase_of = lambda t: "steady" if t >= start else None
        exporter = OTLPSpanExporter(endpoint=f"{receiver.endpoint('mine')}/v1/traces")
        result = exporter.export(_spans([("embed question", 2000), ("vector.search", 500), ("other", 9)]))
        assert result.name == "SUCCESS"
        assert receiver.seen_names("mine") == ["embed question", "other", "vector.search"]
        assert receiver.unmatched("mine") == []
        hists = receiver.take()[("mine", "steady")]
        assert hists["query.embed"].count == 1 and hists["query.retrieve"].count == 1
        assert 1900 <= hists["query.embed"].percentile_us(50) <= 2100  # HDR's precision
        assert receiver.take() == {}  # taken once
        # by service.name on the plain path; a garbage body is a 400 with a JSON reason
        exporter = OTLPSpanExporter(endpoint=f"{receiver.url}/v1/traces")
        assert exporter.export(_spans([("vector.search", 100)])).name == "SUCCESS"
        assert receiver.take()[("mine", "steady")]["query.retrieve"].count == 1
        req = urllib.request.Request(f"{receiver.url}/mine/v1/traces", data=b"\x01\x02", method="POST",
                                     headers={"Content-Type": "application/x-protobuf"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 400 and "error" in json.loads(err.value.read())


def test_a_stage_recorder_with_a_tracer_mirrors_each_stage_as_a_span() -> None:
    from ragchaos.measure.stages import StageRecorder

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    recorder = StageRecorder(strict=True, tracer=provider.get_tracer("t"))
    recorder.record_us("query.embed", 2500)
    [span] = memory.get_finished_spans()
    assert span.name == "query.embed" and span.end_time - span.start_time == 2_500_000
    assert recorder.snapshot()["query.embed"].count == 1
    assert StageRecorder(tracer=None)._tracer is None
