"""What the provider served, per API key and endpoint family (``GET /_stats``).

Counters and an HDR histogram of service time (µs, from the request's arrival to the end of
its answer, a stream included). A short log of recent requests (``GET /_stats/requests``)
keeps arrival times and the SDK's ``x-stainless-retry-count``, so a test or a report can
rebuild a retry timeline without touching the app.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ragchaos.measure.hdr import Histogram

__all__ = ["EndpointStats", "Stats"]


class EndpointStats:
    __slots__ = ("requests", "inputs", "tokens_in", "tokens_out", "rate_limited", "faults_injected",
                 "retries_seen", "errors", "cost_usd", "service_time")

    def __init__(self) -> None:
        self.requests = 0
        self.inputs = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.rate_limited = 0  # 429s served, whatever their cause (bucket, fault, quota)
        self.faults_injected = 0  # requests at least one fault hit
        self.retries_seen = 0  # requests whose x-stainless-retry-count was > 0
        self.errors = 0  # answers with status >= 400 (the 429s included)
        self.cost_usd = 0.0
        self.service_time = Histogram()

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "inputs": self.inputs,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "rate_limited": self.rate_limited,
            "faults_injected": self.faults_injected,
            "retries_seen": self.retries_seen,
            "errors": self.errors,
            "cost_usd": round(self.cost_usd, 9),
            "service_time": {"count": self.service_time.count, "hdr": self.service_time.encode()},
        }


class Stats:
    def __init__(self, log_size: int = 10_000, wall: Callable[[], float] = time.time) -> None:
        self.wall = wall
        self.since = wall()
        self._by: dict[tuple[str, str], EndpointStats] = {}
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)

    def endpoint(self, key: str, endpoint: str) -> EndpointStats:
        s = self._by.get((key, endpoint))
        if s is None:
            s = self._by[(key, endpoint)] = EndpointStats()
        return s

    def record(self, key: str, endpoint: str, *, status: int, retry_count: int, faulted: bool,
               service_us: float, arrived: float, request_id: str, correlation: str | None) -> EndpointStats:
        """Count one answered request; the caller adds inputs, tokens and cost for served ones."""
        s = self.endpoint(key, endpoint)
        s.requests += 1
        if retry_count > 0:
            s.retries_seen += 1
        if faulted:
            s.faults_injected += 1
        if status >= 400:
            s.errors += 1
            if status == 429:
                s.rate_limited += 1
        s.service_time.record_us(max(service_us, 1.0))
        if self.log.maxlen:
            self.log.append({"t": arrived, "key": key, "endpoint": endpoint, "status": status,
                             "retry_count": retry_count, "request_id": request_id,
                             "correlation_id": correlation, "service_us": int(service_us)})
        return s

    def reset(self) -> None:
        self._by.clear()
        self.log.clear()
        self.since = self.wall()

    def to_json(self) -> dict[str, Any]:
        keys: dict[str, dict[str, Any]] = {}
        for (key, endpoint), s in sorted(self._by.items()):
            keys.setdefault(key, {})[endpoint] = s.to_json()
        return {"since": self.since, "keys": keys}
