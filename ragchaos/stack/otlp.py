"""An OTLP/HTTP trace receiver: in-service stage times from a service's own OpenTelemetry spans.

A started target gets ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT/<target>``; its
exporter posts ``ExportTraceServiceRequest`` messages to ``/<target>/v1/traces`` (protobuf,
``application/x-protobuf``, or the OTLP JSON encoding, optionally gzip). A plain ``/v1/traces``
is routed by the resource's ``service.name``. Spans map to stage names by the target's rules,
first match wins: a rule matches the span's name (a shell-style glob) and, optionally, its
attributes, each by equality, prefix or regular expression. Frameworks commonly name every
component's span alike and put the component in an attribute::

    spans:
      "ask": query.total                                   # name glob -> stage
      - {name: haystack.component.run, stage: query.embed,
         attributes: {haystack.component.name: text_embedder}}          # equality
      - {name: haystack.component.run, stage: query.retrieve,
         attributes: {haystack.component.name: {prefix: retriever}}}
      - {name: "*", stage: query.generate,
         attributes: {haystack.component.type: {regex: ".*Generator$"}}}

(a file uses one form or the other: a mapping, or a list of rules). Each matched span's
duration goes into an HDR histogram of the phase its **start** falls in (``phase_of``): the
rule requests and proxy calls follow too, so a span belongs to the moment its work began, and a
span exported a little late still counts there. A span whose status is ERROR is counted apart
(``errors``), never as a duration of its stage.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ragchaos.core.ports import LOOPBACK
from ragchaos.measure.hdr import Histogram

__all__ = ["AttributeMatch", "OtlpReceiver", "SpanRecord", "SpanRule", "SpanRules", "decode_traces"]


@dataclass(frozen=True)
class SpanRecord:
    service: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)
    error: bool = False  # the span's status is ERROR

    @property
    def duration_us(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1000.0


class AttributeMatch(BaseModel):
    """How one attribute must look: exactly one of equals, prefix, regex."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    equals: str | int | float | bool | None = None
    prefix: str | None = None
    regex: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"regex {value!r} does not compile: {exc}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> AttributeMatch:
        given = [k for k in ("equals", "prefix", "regex") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("an attribute match is one of {equals: V}, {prefix: P} or {regex: R}"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self

    def matches(self, value: Any) -> bool:
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals or str(value) == str(self.equals)
        if self.prefix is not None:
            return str(value).startswith(self.prefix)
        assert self.regex is not None
        return re.search(self.regex, str(value)) is not None

    def describe(self) -> str:
        if self.equals is not None:
            return f"={self.equals}"
        return f" starts with {self.prefix}" if self.prefix is not None else f" ~ /{self.regex}/"


class SpanRule(BaseModel):
    """A span name glob, optional attribute matches (all must hold), and the stage it maps to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "*"
    attributes: dict[str, AttributeMatch] = Field(default_factory=dict)
    stage: str

    @field_validator("attributes", mode="before")
    @classmethod
    def _plain_value_is_equality(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (v if isinstance(v, dict | AttributeMatch) else {"equals": v}) for k, v in value.items()}
        return value

    def matches(self, span: SpanRecord) -> bool:
        return fnmatch.fnmatchcase(span.name, self.name) and all(
            m.matches(span.attributes.get(key)) for key, m in self.attributes.items())

    def describe(self) -> str:
        if not self.attributes:
            return repr(self.name)
        return f"{self.name!r} [{', '.join(f'{k}{m.describe()}' for k, m in self.attributes.items())}]"


SpanRuleSpec = Mapping[str, str] | Sequence[SpanRule | Mapping[str, Any]]


def as_rules(spec: SpanRuleSpec) -> list[SpanRule]:
    """The two ways to write rules: {glob: stage} or a list of rules."""
    if isinstance(spec, Mapping):
        return [SpanRule(name=pattern, stage=stage) for pattern, stage in spec.items()]
    return [r if isinstance(r, SpanRule) else SpanRule.model_validate(r) for r in spec]


class SpanRules:
    """Span rules in the order given (first match wins); counts what each rule matched."""

    def __init__(self, rules: SpanRuleSpec) -> None:
        self.rules = as_rules(rules)
        self.hits = [0] * len(self.rules)

    def stage(self, span: SpanRecord | str) -> str | None:
        if isinstance(span, str):
            span = SpanRecord(None, span, 0, 0)
        for i, rule in enumerate(self.rules):
            if rule.matches(span):
                self.hits[i] += 1
                return rule.stage
        return None

    def unmatched(self) -> list[str]:
        """The rules that matched no span so far, described."""
        return [r.describe() for r, n in zip(self.rules, self.hits, strict=True) if not n]

    def attribute_keys(self) -> list[str]:
        return sorted({k for r in self.rules for k in r.attributes})


def _json_value(v: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "string_value", "intValue", "int_value", "boolValue", "bool_value",
                "doubleValue", "double_value"):
        if key in v:
            return v[key]
    return None


def _proto_value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind in ("string_value", "int_value", "bool_value", "double_value") else None


_STATUS_ERROR = 2  # opentelemetry.proto.trace.v1.Status.STATUS_CODE_ERROR


def _service_of(attributes: list[Any], get: Callable[[Any], tuple[str, Any]]) -> str | None:
    for a in attributes:
        key, value = get(a)
        if key == "service.name":
            return str(value)
    return None


def decode_traces(body: bytes, content_type: str, content_encoding: str = "") -> list[SpanRecord]:
    """Spans of one ExportTraceServiceRequest, protobuf or JSON; ValueError if it is neither."""
    if content_encoding.lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except OSError as exc:
            raise ValueError(f"bad gzip body: {exc}") from None
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        return _decode_json(body)
    if ctype in ("application/x-protobuf", "application/protobuf", ""):
        return _decode_protobuf(body)
    raise ValueError(f"unsupported content type {content_type!r}; use application/x-protobuf or application/json")


def _decode_protobuf(body: bytes) -> list[SpanRecord]:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    msg = ExportTraceServiceRequest()
    try:
        msg.ParseFromString(body)
    except DecodeError as exc:
        raise ValueError(f"not an ExportTraceServiceRequest: {exc}") from None
    out = []
    for rs in msg.resource_spans:
        service = _service_of(list(rs.resource.attributes), lambda a: (a.key, a.value.string_value))
        for ss in rs.scope_spans:
            out += [SpanRecord(service, s.name, s.start_time_unix_nano, s.end_time_unix_nano,
                               {a.key: _proto_value(a.value) for a in s.attributes},
                               s.status.code == _STATUS_ERROR) for s in ss.spans]
    return out


def _decode_json(body: bytes) -> list[SpanRecord]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("an ExportTraceServiceRequest is a JSON object")
    out = []
    try:
        for rs in data.get("resourceSpans") or data.get("resource_spans") or []:
            attrs = (rs.get("resource") or {}).get("attributes") or []
            service = _service_of(attrs, lambda a: (a.get("key"), _json_value(a.get("value") or {})))
            for ss in rs.get("scopeSpans") or rs.get("scope_spans") or []:
                for s in ss.get("spans") or []:
                    start = int(s.get("startTimeUnixNano") or s.get("start_time_unix_nano") or 0)
                    end = int(s.get("endTimeUnixNano") or s.get("end_time_unix_nano") or 0)
                    attrs = {a.get("key"): _json_value(a.get("value") or {}) for a in s.get("attributes") or []}
                    code = (s.get("status") or {}).get("code")
                    error = code in (_STATUS_ERROR, "STATUS_CODE_ERROR")
                    out.append(SpanRecord(service, str(s.get("name", "")), start, end, attrs, error))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed OTLP JSON: {exc}") from None
    return out


class OtlpReceiver:
    """Receives spans for several targets; stage histograms per (target, phase)."""

    def __init__(self, rules: Mapping[str, SpanRuleSpec], host: str = LOOPBACK, port: int = 0) -> None:
        self.rules = {t: SpanRules(r) for t, r in rules.items()}
        self._lock = threading.Lock()
        self.seen: dict[str, Counter[str]] = {t: Counter() for t in rules}
        # per target: for each attribute a rule looks at, the values seen (to say why a rule missed)
        self.seen_attributes: dict[str, dict[str, Counter[str]]] = {t: {} for t in rules}
        self.stages: dict[tuple[str, str], dict[str, Histogram]] = {}
        self.errors: dict[tuple[str, str], Counter[str]] = {}  # spans with status ERROR, per stage
        self.rejected = 0
        self.phase_of: Callable[[float], str | None] = lambda t: None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:  # quiet: spans arrive several times a second
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address: bytes only for AF_UNIX
        return f"http://{host}:{port}"

    def endpoint(self, target: str) -> str:
        """The ``OTEL_EXPORTER_OTLP_ENDPOINT`` for one target."""
        return f"{self.url}/{target}"

    def start(self) -> OtlpReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, name="otlp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?")[0].rstrip("/")
        parts = path.strip("/").split("/")
        target = parts[0] if len(parts) == 3 else None
        if parts[-2:] != ["v1", "traces"] or len(parts) not in (2, 3):
            return self._reply(req, 404, {"error": f"no such path {req.path}; post traces to /v1/traces"})
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        try:
            spans = decode_traces(body, req.headers.get("Content-Type", ""), req.headers.get("Content-Encoding", ""))
        except ValueError as exc:
            with self._lock:
                self.rejected += 1
            return self._reply(req, 400, {"error": str(exc)})
        self.add(spans, target)
        if "json" in (req.headers.get("Content-Type") or ""):
            return self._reply(req, 200, {})
        req.send_response(200)
        req.send_header("Content-Type", "application/x-protobuf")
        req.send_header("Content-Length", "0")  # an empty ExportTraceServiceResponse
        req.end_headers()

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(raw)))
        req.end_headers()
        req.wfile.write(raw)

    def add(self, spans: list[SpanRecord], target: str | None = None) -> None:
        """Count each span's name and record its duration under its stage and the phase of its start;
        an ERROR span is counted apart."""
        with self._lock:
            for span in spans:
                who = target if target in self.rules else span.service
                if who not in self.rules or who is None:
                    continue
                rules = self.rules[who]
                self.seen[who][span.name] += 1
                for key in rules.attribute_keys():
                    if key in span.attributes:
                        self.seen_attributes[who].setdefault(key, Counter())[str(span.attributes[key])] += 1
                stage = rules.stage(span)
                if stage is None:
                    continue
                phase = self.phase_of(span.start_ns / 1e9)
                if phase is None:
                    continue  # before the load (seeding, the warm-up probe)
                if span.error:
                    self.errors.setdefault((who, phase), Counter())[stage] += 1
                    continue
                hists = self.stages.setdefault((who, phase), {})
                hists.setdefault(stage, Histogram()).record_us(span.duration_us)

    def unmatched(self, target: str) -> list[str]:
        with self._lock:
            return self.rules[target].unmatched()

    def seen_names(self, target: str) -> list[str]:
        with self._lock:
            return sorted(self.seen[target])

    def seen_values(self, target: str) -> dict[str, list[str]]:
        """For each attribute the rules look at: the values seen, most frequent first."""
        with self._lock:
            return {k: [v for v, _ in c.most_common(8)] for k, c in self.seen_attributes[target].items()}

    def take(self) -> dict[tuple[str, str], dict[str, Histogram]]:
        """The histograms so far (and forget them)."""
        with self._lock:
            out, self.stages = self.stages, {}
        return out

    def take_errors(self) -> dict[tuple[str, str], dict[str, int]]:
        """ERROR spans per (target, phase) and stage so far (and forget them)."""
        with self._lock:
            out, self.errors = self.errors, {}
        return {k: dict(v) for k, v in out.items()}
