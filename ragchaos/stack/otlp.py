"""An OTLP/HTTP trace receiver: in-service stage times from a service's own OpenTelemetry spans.

A started target gets ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT/<target>``; its
exporter posts ``ExportTraceServiceRequest`` messages to ``/<target>/v1/traces`` (protobuf,
``application/x-protobuf``, or the OTLP JSON encoding, optionally gzip). A plain ``/v1/traces``
is routed by the resource's ``service.name``. Span names map to stage names by the target's
rules (``{"embed*": "query.embed"}``, shell-style globs, first match wins); each matched span's
duration goes into an HDR histogram of the phase its end time falls in (``phase_of``), so a
span exported a little late still counts where it happened.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ragchaos.core.ports import LOOPBACK
from ragchaos.measure.hdr import Histogram

__all__ = ["OtlpReceiver", "SpanRecord", "SpanRules", "decode_traces"]


@dataclass(frozen=True)
class SpanRecord:
    service: str | None
    name: str
    start_ns: int
    end_ns: int

    @property
    def duration_us(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1000.0


class SpanRules:
    """Span-name globs to stage names, in the order given (first match wins)."""

    def __init__(self, rules: Mapping[str, str]) -> None:
        self.rules = list(rules.items())

    def stage(self, span_name: str) -> str | None:
        for pattern, stage in self.rules:
            if fnmatch.fnmatchcase(span_name, pattern):
                return stage
        return None

    def unmatched(self, seen: Iterator[str] | list[str] | set[str]) -> list[str]:
        names = list(seen)
        return [p for p, _ in self.rules if not any(fnmatch.fnmatchcase(n, p) for n in names)]


def _json_value(v: Mapping[str, Any]) -> Any:
    for key in ("stringValue", "string_value", "intValue", "int_value", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    return None


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
            out += [SpanRecord(service, s.name, s.start_time_unix_nano, s.end_time_unix_nano) for s in ss.spans]
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
                    out.append(SpanRecord(service, str(s.get("name", "")), start, end))
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed OTLP JSON: {exc}") from None
    return out


class OtlpReceiver:
    """Receives spans for several targets; stage histograms per (target, phase)."""

    def __init__(self, rules: Mapping[str, Mapping[str, str]], host: str = LOOPBACK, port: int = 0) -> None:
        self.rules = {t: SpanRules(r) for t, r in rules.items()}
        self._lock = threading.Lock()
        self.seen: dict[str, Counter[str]] = {t: Counter() for t in rules}
        self.stages: dict[tuple[str, str], dict[str, Histogram]] = {}
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
        """Count each span's name and record its duration under its stage and phase."""
        with self._lock:
            for span in spans:
                who = target if target in self.rules else span.service
                if who not in self.rules:
                    continue
                self.seen[who][span.name] += 1
                stage = self.rules[who].stage(span.name)
                if stage is None:
                    continue
                phase = self.phase_of(span.end_ns / 1e9)
                if phase is None:
                    continue  # before the load (seeding, the warm-up probe)
                hists = self.stages.setdefault((who, phase), {})
                hists.setdefault(stage, Histogram()).record_us(span.duration_us)

    def unmatched(self, target: str) -> list[str]:
        with self._lock:
            return self.rules[target].unmatched(set(self.seen[target]))

    def seen_names(self, target: str) -> list[str]:
        with self._lock:
            return sorted(self.seen[target])

    def take(self) -> dict[tuple[str, str], dict[str, Histogram]]:
        """The histograms so far (and forget them)."""
        with self._lock:
            out, self.stages = self.stages, {}
        return out
