"""Server-side figures for the live view: the provider's counts per app key and each app's /metrics.

``ServerFeeds.poll()`` reads ``GET /_stats`` of the provider and ``GET /metrics`` of each app
(never a reset: a scenario run resets the provider's stats at its phase boundaries, and the
live view must not take those counts away from the report) and adds what changed since the
previous poll into an accumulator; ``take()`` hands the accumulated deltas over and starts a
new one. A counter that went down was reset by someone else: its new value is the delta.
A slow or failing endpoint costs one poll's worth of figures, never the frame.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ragchaos.reports.counters import Counters
from ragchaos.scenarios.collect import parse_metrics

__all__ = ["Deltas", "ServerFeeds", "breaker_states", "http_get"]

_PROVIDER_COUNTS = ("requests", "inputs", "tokens_in", "tokens_out", "rate_limited", "faults_injected",
                    "retries_seen", "errors")
# ragchaos_breaker_state values (ragchaos.measure.metrics.BREAKER_STATE_VALUE)
_BREAKER_NAMES = {0: "closed", 1: "half-open", 2: "open"}


def http_get(url: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read()


@dataclass
class Deltas:
    """What changed on the servers' side since the last ``take``, per app."""

    provider: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # app -> endpoint -> counts
    counters: dict[str, dict[str, float]] = field(default_factory=dict)  # app -> metric sample -> delta
    gauges: dict[str, dict[str, float]] = field(default_factory=dict)  # app -> gauge sample -> last value
    errors: list[str] = field(default_factory=list)

    def provider_total(self, app: str, count: str) -> float:
        return sum(ep.get(count, 0.0) for ep in self.provider.get(app, {}).values())


def breaker_states(gauges: Mapping[str, float]) -> dict[str, str]:
    """``{dependency: closed | half-open | open}`` from the ``ragchaos_breaker_state`` gauges."""
    out = {}
    for (dep,), value in Counters(gauges).by_labels("ragchaos_breaker_state", "dependency").items():
        out[dep] = _BREAKER_NAMES.get(int(value), str(value))
    return out


class ServerFeeds:
    def __init__(self, provider_url: str | None, metrics_urls: Mapping[str, str | None], *,
                 fetch: Callable[[str, float], bytes] = http_get, timeout_s: float = 0.8) -> None:
        self.provider_url = provider_url.rstrip("/") if provider_url else None
        self.metrics_urls = dict(metrics_urls)  # app -> base URL, None when it has no /metrics
        self.fetch = fetch
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._acc = Deltas()
        self._last_provider: dict[str, dict[str, dict[str, float]]] = {}
        self._provider_since: float | None = None
        self._last_metrics: dict[str, dict[str, float]] = {}

    def poll_provider(self) -> None:
        if self.provider_url is None:
            return
        try:
            body = json.loads(self.fetch(f"{self.provider_url}/_stats", self.timeout_s))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._error(f"provider: {exc}")
            return
        since = body.get("since")
        reset = self._provider_since is not None and since != self._provider_since
        self._provider_since = since
        now: dict[str, dict[str, dict[str, float]]] = {}
        for app, endpoints in (body.get("keys") or {}).items():
            now[app] = {ep: {k: float(stats.get(k) or 0) for k in _PROVIDER_COUNTS} for ep, stats in endpoints.items()}
        with self._lock:
            for app, endpoints in now.items():
                for ep, counts in endpoints.items():
                    before = {} if reset else self._last_provider.get(app, {}).get(ep, {})
                    cell = self._acc.provider.setdefault(app, {}).setdefault(ep, {})
                    for k, v in counts.items():
                        old = before.get(k, 0.0)
                        cell[k] = cell.get(k, 0.0) + (v - old if v >= old else v)
            self._last_provider = now

    def poll_metrics(self, app: str) -> None:
        base = self.metrics_urls.get(app)
        if not base:
            return
        try:
            values, gauges = parse_metrics(self.fetch(f"{base.rstrip('/')}/metrics", self.timeout_s).decode())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._error(f"{app}: {exc}")
            return
        with self._lock:
            before = self._last_metrics.get(app)
            self._last_metrics[app] = values
            if before is None:
                return  # the first read is the baseline
            counters = self._acc.counters.setdefault(app, {})
            for key, value in values.items():
                if key in gauges:
                    self._acc.gauges.setdefault(app, {})[key] = value
                    continue
                old = before.get(key, 0.0)
                delta = value - old if value >= old else value
                if delta:
                    counters[key] = counters.get(key, 0.0) + delta

    def take(self) -> Deltas:
        with self._lock:
            out, self._acc = self._acc, Deltas(gauges={a: dict(g) for a, g in self._acc.gauges.items()})
        return out

    def _error(self, text: str) -> None:
        with self._lock:
            self._acc.errors.append(text)
