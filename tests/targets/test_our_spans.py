"""Our reference app exports its stages as OpenTelemetry spans when OTEL_EXPORTER_OTLP_ENDPOINT
is set, so the span path (receiver, rules, histograms) is tested on an app we know too."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from ragchaos.stack.otlp import OtlpReceiver
from ragchaos.stack.targets import dependency_env

pytestmark = pytest.mark.slow


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read() or b"{}")


def test_reference_app_stages_arrive_as_spans(start_app: Callable[..., Any]) -> None:
    rules = {f"query.{s}": f"query.{s}" for s in ("total", "embed", "retrieve", "generate")}
    with OtlpReceiver({"spanref": rules}) as receiver:
        receiver.phase_of = lambda t: "steady"
        env = {k: v for k, v in dependency_env("spanref", {}, receiver.endpoint("spanref")).items()}
        app = start_app("reference", env=env, name="spanref")
        status, body = _post(f"{app.url}/v1/documents", {"tenant": "acme", "doc_id": "d1",
                                                         "text": "The Zorblax-300 widget ships in blue.",
                                                         "metadata": {}})
        assert status in (200, 201, 202)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the ingest is queued: ask until the document is found
            status, answer = _post(f"{app.url}/v1/query", {"tenant": "acme", "question": "What colour is the "
                                                           "Zorblax-300 widget?", "top_k": 2, "stream": False})
            if any(s.get("doc_id") == "d1" for s in answer.get("sources", [])):
                break
            time.sleep(0.3)
        while receiver.unmatched("spanref") and time.monotonic() < deadline:
            time.sleep(0.2)  # batched export, 200 ms schedule delay
        assert receiver.unmatched("spanref") == [], receiver.seen_names("spanref")
        hists = receiver.take()[("spanref", "steady")]
        assert hists["query.total"].count >= 1 and hists["query.total"].percentile_us(50) > 0
        assert "ingest.embed" in receiver.seen_names("spanref")  # every recorded stage is a span
