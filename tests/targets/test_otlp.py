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

from ragchaos.stack.otlp import OtlpReceiver, SpanRules, decode_traces


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
    assert rules.unmatched({"embed question", "llm"}) == ["never*"]


def test_the_receiver_takes_the_sdk_exporters_posts_and_phases_spans_by_end_time() -> None:
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
