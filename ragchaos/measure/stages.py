"""Per-stage timing with HDR histograms, and the stage vocabulary.

One vocabulary everywhere (apps, results, reports); see docs/contracts.md. A service exposes
its recorder at ``GET /_stats/hdr`` (encoded histograms since the last reset) and
``POST /_stats/reset``; ``hdr_routes`` adds both to any Starlette/FastAPI app, so a service we
did not write can adopt the same contract in two lines (then say ``stats: true`` in its target,
docs/your-service.md)::

    from ragchaos.measure.stages import StageRecorder, hdr_routes

    stages = StageRecorder()
    hdr_routes(app, stages)
    ...
    with stages.time("query.retrieve"):
        hits = index.search(vector)

A service that prefers OpenTelemetry needs none of this: its spans map to the same stage names
(``ragchaos.stack.otlp``). Our own apps do both: when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, every
recorded stage is also exported as an OpenTelemetry span named after the stage (its start is
the end minus the recorded time), so the span path is tested on the apps we know best.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ragchaos.measure.hdr import Histogram

__all__ = [
    "INGEST_STAGES",
    "PROXY_STAGE_FAMILY",
    "PROVIDER_STAGES",
    "QUERY_STAGES",
    "STAGES",
    "StageRecorder",
    "hdr_routes",
    "proxy_stage",
]

QUERY_STAGES = ("query.total", "query.cache", "query.embed", "query.retrieve", "query.generate")
INGEST_STAGES = (
    "ingest.total",
    "ingest.chunk",
    "ingest.embed",
    "ingest.upsert",
    "ingest.queue_wait",
    "ingest.freshness",
)
# the provider's own service time per endpoint, as it saw each call (from its /_stats, per key):
# filled for every target that calls the simulated provider, ours or not
PROVIDER_STAGES = ("provider.embeddings", "provider.chat")
STAGES = QUERY_STAGES + INGEST_STAGES + PROVIDER_STAGES
# every call a target made to a dependency, timed at the fault proxy (no code in the target):
# ``proxy.<dependency>.<endpoint>``, e.g. proxy.vectordb.query, proxy.provider.chat
PROXY_STAGE_FAMILY = "proxy"


def proxy_stage(dependency: str, endpoint: str) -> str:
    """The stage name of one dependency endpoint as timed at the proxy."""
    return f"{PROXY_STAGE_FAMILY}.{dependency}.{endpoint}"


class StageRecorder:
    """Thread-safe map of stage name -> Histogram, with a reset epoch.

    ``clock`` returns seconds (``time.perf_counter`` by default) and is injectable so tests can
    drive it. Unknown stage names are accepted (a user's service may add its own) but
    ``strict=True`` rejects them, which our apps use to keep to the vocabulary.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter, strict: bool = False,
                 tracer: Any = "env") -> None:
        self._clock = clock
        self._strict = strict
        # an OpenTelemetry tracer to mirror stages as spans; "env": one when OTEL_EXPORTER_OTLP_ENDPOINT is set
        self._tracer = env_tracer() if tracer == "env" else tracer
        self._lock = threading.Lock()
        self._hist: dict[str, Histogram] = {}
        self.reset_at = time.time()

    def record_us(self, stage: str, value_us: float) -> None:
        if self._strict and stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        with self._lock:
            hist = self._hist.get(stage)
            if hist is None:
                hist = self._hist[stage] = Histogram()
            hist.record_us(value_us)
        if self._tracer is not None:
            end = time.time_ns()
            self._tracer.start_span(stage, start_time=end - int(value_us * 1000)).end(end_time=end)

    def record_seconds(self, stage: str, seconds: float) -> None:
        self.record_us(stage, seconds * 1_000_000)

    @contextmanager
    def time(self, stage: str) -> Iterator[None]:
        """Time a block into ``stage``; the block's exceptions propagate, its time still counts."""
        start = self._clock()
        try:
            yield
        finally:
            self.record_seconds(stage, self._clock() - start)

    def snapshot(self) -> dict[str, Histogram]:
        """Copies of every histogram, safe to read while recording goes on."""
        with self._lock:
            return {name: Histogram().add(h) for name, h in self._hist.items()}

    def reset(self) -> None:
        with self._lock:
            self._hist.clear()
            self.reset_at = time.time()

    def export(self) -> dict[str, Any]:
        """The ``/_stats/hdr`` body: encoded histograms plus counts and clamp counters."""
        snap = self.snapshot()
        return {
            "since": self.reset_at,
            "unit": "us",
            "stages": {
                name: {"count": h.count, "clamped": h.clamped, "hdr": h.encode()} for name, h in snap.items()
            },
        }

    @staticmethod
    def decode_export(body: dict[str, Any]) -> dict[str, Histogram]:
        """Inverse of ``export``: stage name -> Histogram (clamp counters restored)."""
        out: dict[str, Histogram] = {}
        for name, entry in body.get("stages", {}).items():
            h = Histogram.decode(entry["hdr"])
            h.clamped = int(entry.get("clamped", 0))
            out[name] = h
        return out


_TRACER: Any = None


def env_tracer() -> Any:
    """The process's tracer exporting over OTLP/HTTP, when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set
    and the OpenTelemetry SDK is installed; else None (and stages are not mirrored as spans)."""
    global _TRACER
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    if _TRACER is None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            return None
        provider = TracerProvider(resource=Resource.create())  # service.name from OTEL_SERVICE_NAME
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        _TRACER = provider.get_tracer("ragchaos.stages")
    return _TRACER


def hdr_routes(app: Any, recorder: StageRecorder) -> None:
    """Add ``GET /_stats/hdr`` and ``POST /_stats/reset`` to a Starlette or FastAPI app."""
    from starlette.responses import JSONResponse

    async def get_hdr(request: Any) -> JSONResponse:
        return JSONResponse(recorder.export())

    async def reset(request: Any) -> JSONResponse:
        recorder.reset()
        return JSONResponse({"reset": True, "since": recorder.reset_at})

    app.add_route("/_stats/hdr", get_hdr, methods=["GET"], include_in_schema=False)
    app.add_route("/_stats/reset", reset, methods=["POST"], include_in_schema=False)
