"""Stage times of any target with no code in it: the fault proxy's call records, filed per
app × phase × dependency.

The built-in proxy times every call a target makes to each dependency (``faults.server.calls``).
``ProxyCallFiler`` reads them (``faults.calltiming.CallReader``) and files each under the app
and dependency its proxy belongs to and the phase its **start** falls in (the rule requests and
spans follow too: a call belongs to the moment it was made). Each endpoint becomes a stage
``proxy.<dependency>.<endpoint>`` (``measure.stages.proxy_stage``) of the calls answered below
400; errors, calls without an answer and half answers are counted apart
(``reports.results.EndpointCalls``). Non-HTTP dependencies give ``proxy.<dependency>.exchange``.

With a real Toxiproxy there are no records (it has no per-call view): ``info()`` says so and
nothing is filed, so reports show "not measured", never zeros.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ragchaos.faults.calltiming import NOT_AVAILABLE, CallReader
from ragchaos.measure.hdr import Histogram
from ragchaos.measure.stages import proxy_stage
from ragchaos.reports.results import DependencyCalls, EndpointCalls, ProxyCallsInfo, Summary

__all__ = ["ProxyCallFiler", "status_class"]


def status_class(status: int) -> str | None:
    if status == 429:
        return "429"
    if 200 <= status < 600:
        return f"{status // 100}xx"
    return None


@dataclass
class _Endpoint:
    attempts: int = 0
    retries: int = 0
    status: dict[str, int] = field(default_factory=dict)
    no_response: int = 0
    ok: Histogram = field(default_factory=Histogram)
    failed: Histogram = field(default_factory=Histogram)


@dataclass
class _Dependency:
    proxy: str
    connections: int = 0
    refused: int = 0
    calls: int = 0
    endpoints: dict[str, _Endpoint] = field(default_factory=dict)


class ProxyCallFiler:
    """Files one leg's call records; ``proxies`` maps a proxy name to (app, dependency)."""

    def __init__(self, reader: CallReader | None, proxies: Mapping[str, tuple[str, str]]) -> None:
        self.reader = reader
        self.proxies = dict(proxies)
        self.measured = reader is not None and reader.available()
        self.files: dict[tuple[str, str], dict[str, _Dependency]] = {}  # (app, phase) -> dependency -> figures
        self.t0 = 0.0
        self.phase_at: Callable[[float], str | None] = lambda t: None
        self.unfinished = 0
        self._reading = threading.Lock()
        # per (app, dependency): start times (s from t0) of its calls and new connections
        self._when: dict[tuple[str, str], tuple[list[float], list[float]]] = {}  # one reader at a time: the cursor is shared

    def start(self, t0: float, phase_at: Callable[[float], str | None]) -> None:
        """From now on: what was carried before (seeding, probes) is not the load's."""
        self.t0, self.phase_at = t0, phase_at
        if self.measured:
            assert self.reader is not None
            self.reader.skip_to_now()

    def collect(self) -> None:
        """Read what the proxy recorded since the last call and file it."""
        if self.measured:
            assert self.reader is not None
            with self._reading:
                self.file(self.reader.fetch())

    def finish(self) -> None:
        self.collect()
        if self.measured:
            assert self.reader is not None
            self.unfinished = sum(n for name, n in self.reader.in_flight.items() if name in self.proxies)

    def file(self, records: Iterable[Mapping[str, Any]]) -> None:
        for r in records:
            where = self.proxies.get(str(r.get("proxy")))
            if where is None:
                continue  # another app's or another run's proxy
            phase = self.phase_at(float(r["start"]) - self.t0)
            if phase is None:
                continue
            app, dep = where
            d = self.files.setdefault((app, phase), {}).setdefault(dep, _Dependency(str(r["proxy"])))
            kind = r.get("kind")
            calls, opens = self._when.setdefault((app, dep), ([], []))
            if kind in ("http", "tcp"):
                calls.append(float(r["start"]) - self.t0)
            elif kind == "open":
                opens.append(float(r["start"]) - self.t0)
            if kind == "open":
                d.connections += 1
                continue
            if kind == "refused":
                d.refused += 1
                continue
            if kind not in ("http", "tcp"):
                continue
            d.calls += 1
            e = d.endpoints.setdefault(str(r.get("endpoint") or "unparsed"), _Endpoint())
            e.attempts += 1
            if (r.get("retry") or 0) > 0:
                e.retries += 1
            cls = status_class(int(r.get("status") or 0))
            if cls is not None:
                e.status[cls] = e.status.get(cls, 0) + 1
            if r.get("outcome") in ("no_response", "incomplete"):
                e.no_response += 1
            ok = r.get("outcome") == "ok"
            (e.ok if ok else e.failed).record_us(max(1, int(r["duration_us"])))

    def activity(self, app: str, dependency: str, a: float, b: float) -> tuple[int, int]:
        """Calls and new connections of ``app`` to ``dependency`` that started in [a, b] (s from t0)."""
        calls, opens = self._when.get((app, dependency), ([], []))
        return sum(1 for t in calls if a <= t <= b), sum(1 for t in opens if a <= t <= b)

    # -- results ---------------------------------------------------------------------------------
    def info(self) -> ProxyCallsInfo:
        lost = self.reader.lost if self.reader is not None and self.measured else 0
        return ProxyCallsInfo(measured=self.measured, note="" if self.measured else NOT_AVAILABLE,
                              lost=lost, unfinished=self.unfinished)

    def dependencies(self, app: str, phase: str) -> dict[str, DependencyCalls]:
        out: dict[str, DependencyCalls] = {}
        for dep, d in sorted(self.files.get((app, phase), {}).items()):
            out[dep] = DependencyCalls(
                proxy=d.proxy, connections=d.connections, refused=d.refused, calls=d.calls,
                endpoints={name: EndpointCalls(attempts=e.attempts, retries=e.retries, status=dict(e.status),
                                               no_response=e.no_response, duration=Summary.of(e.ok),
                                               error_duration=Summary.of(e.failed))
                           for name, e in sorted(d.endpoints.items())},
            )
        return out

    def stages(self, app: str, phase: str) -> dict[str, Histogram]:
        """``proxy.<dependency>.<endpoint>``: the calls answered below 400, per endpoint."""
        return {proxy_stage(dep, name): e.ok
                for dep, d in self.files.get((app, phase), {}).items()
                for name, e in d.endpoints.items() if e.ok.count}

    def phases(self, app: str) -> list[str]:
        return [p for (a, p) in self.files if a == app]
