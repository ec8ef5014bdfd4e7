"""Server-side measurements at phase boundaries: stage histograms, app counters, provider stats.

At each boundary the runner takes a ``Snapshot`` per app: the app's stage histograms since the
last reset (``GET /_stats/hdr`` then ``POST /_stats/reset``), its ``/metrics`` (counters are
diffed against the previous snapshot, gauges kept as read) and the provider's ``/_stats`` for
the app's key (read then reset, so each phase's figures are its own). ``PhaseAccumulator`` adds
snapshots that belong to the same phase name.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from ragchaos.measure.hdr import Histogram
from ragchaos.measure.stages import StageRecorder

__all__ = ["PhaseAccumulator", "Probe", "diff_counters", "parse_metrics", "sample_key"]

_TIMEOUT = 5.0


def _http(url: str, method: str = "GET", timeout: float = _TIMEOUT) -> bytes:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.read()


def sample_key(name: str, labels: Mapping[str, str]) -> str:
    if not labels:
        return name
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{body}}}"


def parse_metrics(text: str) -> tuple[dict[str, float], set[str]]:
    """Samples by ``name{labels}`` and the keys that are gauges (not to be diffed)."""
    values: dict[str, float] = {}
    gauges: set[str] = set()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.endswith("_created"):
                continue  # creation timestamps, not measurements
            key = sample_key(s.name, s.labels)
            values[key] = float(s.value)
            if family.type == "gauge":
                gauges.add(key)
    return values, gauges


def diff_counters(before: Mapping[str, float], after: Mapping[str, float], gauges: set[str]) -> dict[str, float]:
    out = {}
    for key, value in after.items():
        out[key] = value if key in gauges else value - before.get(key, 0.0)
    return out


@dataclass
class Probe:
    """One app's measurement endpoints, plus the provider's stats for the app's key."""

    app: str
    url: str
    provider_url: str | None = None
    key: str | None = None
    # what the target serves: /_stats/hdr + /_stats/reset, /metrics (ragchaos.stack.targets.Target)
    stats: bool = True
    metrics: bool = True
    _last_metrics: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def baseline(self) -> None:
        """Start of the run: zero the stage histograms, remember the counters."""
        if self.stats:
            self._try(lambda: _http(f"{self.url}/_stats/reset", "POST"))
        text = self._try(lambda: _http(f"{self.url}/metrics").decode()) if self.metrics else None
        if text is not None:
            self._last_metrics = parse_metrics(text)[0]

    def take(self) -> dict[str, Any]:
        """Everything since the last ``take`` (or ``baseline``)."""
        out: dict[str, Any] = {"stages": {}, "counters": {}, "gauges": set()}
        raw = self._try(lambda: _http(f"{self.url}/_stats/hdr")) if self.stats else None
        if self.stats:
            self._try(lambda: _http(f"{self.url}/_stats/reset", "POST"))
        if raw is not None:
            out["stages"] = StageRecorder.decode_export(json.loads(raw))
        text = self._try(lambda: _http(f"{self.url}/metrics").decode()) if self.metrics else None
        if text is not None:
            values, gauges = parse_metrics(text)
            out["counters"] = diff_counters(self._last_metrics, values, gauges)
            out["gauges"] = gauges
            self._last_metrics = values
        return out

    def mechanisms_off(self) -> list[str] | None:
        """What the app says is switched off (``GET /_stats/mechanisms``, the reference app's);
        None when it does not say (a check that requires a mechanism then warns)."""
        if not self.stats:
            return None
        try:
            body = json.loads(_http(f"{self.url}/_stats/mechanisms"))
        except (urllib.error.URLError, OSError, ValueError):
            return None  # not every target serves it: not an error
        off = body.get("off") if isinstance(body, dict) else None
        return sorted(str(x) for x in off) if isinstance(off, list) else None

    def _try(self, fn: Any) -> Any:
        try:
            return fn()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self.errors.append(f"{self.app}: {exc}")
            return None


def provider_take(provider_url: str, errors: list[str]) -> dict[str, Any]:
    """The provider's ``/_stats`` since the last call (read, then reset)."""
    try:
        body = json.loads(_http(f"{provider_url}/_stats"))
        _http(f"{provider_url}/_stats/reset", "POST")
        return body.get("keys", {})
    except (urllib.error.URLError, OSError, ValueError) as exc:
        errors.append(f"provider: {exc}")
        return {}


_PROVIDER_COUNTS = ("requests", "inputs", "tokens_in", "tokens_out", "rate_limited", "faults_injected",
                    "retries_seen", "errors", "cost_usd")


class PhaseAccumulator:
    """Per app x phase: stage histograms added, counter deltas and provider stats summed."""

    def __init__(self) -> None:
        self.stages: dict[tuple[str, str], dict[str, Histogram]] = {}
        self.counters: dict[tuple[str, str], dict[str, float]] = {}
        self.provider: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.stage_errors: dict[tuple[str, str], dict[str, int]] = {}  # ERROR spans per stage

    def add(self, app: str, phase: str, snap: Mapping[str, Any], provider_keys: Mapping[str, Any]) -> None:
        if snap.get("stage_errors"):
            errors = self.stage_errors.setdefault((app, phase), {})
            for stage, n in snap["stage_errors"].items():
                errors[stage] = errors.get(stage, 0) + int(n)
        stages = self.stages.setdefault((app, phase), {})
        for name, hist in snap.get("stages", {}).items():
            if name in stages:
                stages[name].add(hist)
            else:
                stages[name] = hist
        counters = self.counters.setdefault((app, phase), {})
        gauges = snap.get("gauges", set())
        for key, value in snap.get("counters", {}).items():
            counters[key] = value if key in gauges else counters.get(key, 0.0) + value
        prov = self.provider.setdefault((app, phase), {})
        for endpoint, stats in (provider_keys.get(app) or {}).items():
            cur = prov.setdefault(endpoint, {k: 0 for k in _PROVIDER_COUNTS})
            for k in _PROVIDER_COUNTS:
                cur[k] = cur.get(k, 0) + (stats.get(k) or 0)
            st = stats.get("service_time") or {}
            if st.get("hdr"):
                # the provider's side of the call is a stage of every target, ours or not
                seen = Histogram.decode(st["hdr"])
                name = f"provider.{endpoint}"
                stages[name] = stages[name].add(seen) if name in stages else seen
                h = Histogram.decode(st["hdr"])
                old = cur.get("service_time")
                if old and old.get("hdr"):
                    h.add(Histogram.decode(old["hdr"]))
                cur["service_time"] = {"count": h.count, "hdr": h.encode()}
