"""Client-side recording for the runner's load users: pure Python, thread-safe, cheap per call.

No locust or gevent import here: the runner's Locust users call into it, and the reports read
what it produced, so it works the same under gevent, threads or plain loops (tests).

Usage (one ``Recorder`` per load-generating process)::

    from ragchaos.reports.recorder import Recorder, classify_status, classify_exception

    rec = Recorder()
    intended = schedule_time            # open model: when the plan said to send (time.time())
    actual = time.time()                # when it was really sent
    try:
        resp = client.post(...)
        outcome = classify_status(resp.status_code, resp.headers, resp.content)
    except Exception as exc:
        outcome = classify_exception(exc)
    rec.record("reference", "query", "steady", intended_start=intended, actual_start=actual,
               end=time.time(), outcome=outcome, ttft=first_token_time_or_None)

    # Locust worker -> master (the runner wires report_to_master / worker_report):
    data["ragchaos"] = rec.drain()       # worker: a dict of what was recorded since the last drain
    master_rec.merge(data["ragchaos"])   # master: exact merge (HDR histograms add losslessly)

    # results.json (reports.results):
    rec.client_stats("reference", "steady")   -> ClientStats (per kind and all kinds together)
    rec.intervals("reference", t0=run_started_at) -> [Interval] (1 s, by completion time)

Times are seconds as floats on one clock shared by all processes: use ``time.time()`` (epoch),
because the per-second timeline is keyed by the absolute second and merged across workers.

What is recorded, per (app, phase, kind):
- ``response_time`` = end - intended_start: the wait a user with a schedule saw, coordinated
  omission corrected (wrk2's definition). ``intended_start=None`` (closed model) means
  intended = actual, so response time equals service time.
- ``service_time`` = end - actual_start: what the server (and network) took.
- ``ok_response_time``: response time of ok answers only (goodput within an SLO).
- ``ttft``: time to first token (from the actual send) for streamed answers, when given.
- counts: requests, ok, and errors by class (``ERROR_CLASSES``). Every outcome, error or not,
  is in the latency histograms: a 10 s timeout is part of what users waited.
Per (app, kind, second of completion): requests, ok, errors and a 2-significant-figure
response-time histogram, for timelines and the ``.hlog`` files.

Latencies are integer microseconds in ``ragchaos.measure.hdr.Histogram`` (1 us..10 min, 3 significant
figures, out-of-range values clamped and counted).

Cost: ``record`` appends one tuple to a deque (no lock); every ``batch`` rows (2,048) and
before any read, rows are folded into the histograms with numpy. About 1.3 us per request in
plain Python, 3-4 us in a gevent-patched Locust process (docs/benchmark-history.md). Memory: fixed per
histogram; timeline seconds more than 3 s behind the newest completion are kept HDR-encoded.

Outcome classes (``classify_status``): 2xx/3xx ok; 429 whose JSON error mentions "quota"
(the reference app's ``quota_exceeded``) quota, other 429 "429"; 503 with Retry-After shed
(this includes the reference app's fast ``dependency_unavailable`` 503s); other 5xx "5xx";
408 timeout; anything else other. ``classify_exception``: timeout, reset or other.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.results import (
    ERROR_CLASSES,
    OUTCOMES,
    ClientStats,
    Interval,
    KindStats,
    Latency,
    Summary,
)

__all__ = ["INTERVAL_SIGNIFICANT_FIGURES", "LATE_AFTER_S", "Recorder", "classify_exception", "classify_status"]

# an open-model request sent this long after its intended time was sent late: the load
# generator fell behind its schedule (its response time still counts from the intended time)
LATE_AFTER_S = 0.05

INTERVAL_SIGNIFICANT_FIGURES = 2
# seconds behind the newest completion that stay decoded (rows still arriving for them)
_OPEN_SECONDS = 3
_WIRE_VERSION = 1
_OUTCOME_SET = frozenset(OUTCOMES)


# ---------------------------------------------------------------------------------------------
# outcome classification


def _error_type(body: Any) -> str:
    """The ``error.type`` (and message) of an app's JSON error body, lower-cased; '' if none."""
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.lower()[:500]
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            return f"{err.get('type', '')} {err.get('message', '')}".lower()
        if isinstance(err, str):
            return err.lower()
    return ""


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:  # plain dicts are case-sensitive; HTTP headers are not
        lname = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lname), None)
    return value


def classify_status(status: int, headers: Mapping[str, str] | None = None, body: Any = None) -> str:
    """Outcome of an HTTP answer from an app.

    - 2xx/3xx: ``ok``
    - 429 whose JSON error (``{"error": {"type", "message"}}``) mentions ``quota``: ``quota``
      (the app's tenant quota); any other 429: ``429`` (rate limited)
    - 503 with ``Retry-After``: ``shed`` (the app refused fast to protect itself)
    - other 5xx: ``5xx``; 408: ``timeout``; other 4xx (and status 0): ``other``
    """
    if 200 <= status < 400:
        return "ok"
    if status == 429:
        return "quota" if "quota" in _error_type(body) else "429"
    if status == 503 and _header(headers, "Retry-After") is not None:
        return "shed"
    if 500 <= status < 600:
        return "5xx"
    if status == 408:
        return "timeout"
    return "other"


_TIMEOUT_NAMES = ("timeout", "timedout")
_RESET_NAMES = ("reset", "remotedisconnected", "brokenpipe", "incompleteread", "connectionclosed", "aborted")


def classify_exception(exc: BaseException) -> str:
    """Outcome of a request that raised: ``timeout``, ``reset`` or ``other``.

    Looks at the exception, its causes and their class names, so it recognises the stdlib's,
    geventhttpclient's (Locust's FastHttpUser) and httpx's errors without importing them.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError):
            return "timeout"
        if isinstance(current, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
            return "reset"
        for cls in type(current).__mro__:
            name = cls.__name__.lower()
            if any(t in name for t in _TIMEOUT_NAMES):
                return "timeout"
            if any(t in name for t in _RESET_NAMES):
                return "reset"
        text = str(current).lower()
        if "timed out" in text or "timeout" in text:
            return "timeout"
        if "connection reset" in text or "reset by peer" in text:
            return "reset"
        current = current.__cause__ or current.__context__
    return "other"


# ---------------------------------------------------------------------------------------------
# recording


@dataclass(slots=True)
class _Cell:
    """Everything recorded for one (app, phase, kind)."""

    requests: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    response_time: Histogram = field(default_factory=Histogram)
    service_time: Histogram = field(default_factory=Histogram)
    ok_response_time: Histogram | None = None
    ttft: Histogram | None = None
    dropped: int = 0  # open model: arrivals never sent (max_in_flight outstanding at their time)
    late: int = 0  # sent more than LATE_AFTER_S after their intended time


@dataclass(slots=True)
class _Tick:
    """One second of one (app, kind). A second the load has moved past is kept HDR-encoded
    (a few hundred bytes instead of a 24 KiB counts array), so a long run's timeline stays
    small; it is decoded again only if late rows (e.g. a worker's report) arrive for it."""

    requests: int = 0
    ok: int = 0
    errors: int = 0
    _hist: Histogram | None = None
    _encoded: dict[str, Any] | None = None

    def hist(self) -> Histogram:
        if self._hist is None:
            self._hist = _dec(self._encoded) if self._encoded else Histogram(
                significant_figures=INTERVAL_SIGNIFICANT_FIGURES)
            self._encoded = None
        return self._hist

    def compact(self) -> None:
        if self._hist is not None:
            self._encoded = _enc(self._hist)
            self._hist = None

    def wire(self) -> dict[str, Any]:
        return self._encoded if self._hist is None and self._encoded else _enc(self.hist())


@overload
def _enc(h: Histogram) -> dict[str, Any]: ...
@overload
def _enc(h: Histogram | None) -> dict[str, Any] | None: ...
def _enc(h: Histogram | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {"hdr": h.encode(), "clamped": h.clamped}


@overload
def _dec(d: Mapping[str, Any]) -> Histogram: ...
@overload
def _dec(d: Mapping[str, Any] | None) -> Histogram | None: ...
def _dec(d: Mapping[str, Any] | None) -> Histogram | None:
    if d is None:
        return None
    h = Histogram.decode(d["hdr"])
    h.clamped = int(d.get("clamped", 0))
    return h


@overload
def _merge_into(mine: Histogram, theirs: Histogram | None) -> Histogram: ...
@overload
def _merge_into(mine: Histogram | None, theirs: Histogram | None) -> Histogram | None: ...
def _merge_into(mine: Histogram | None, theirs: Histogram | None) -> Histogram | None:
    if theirs is None:
        return mine
    if mine is None:
        return theirs.copy()
    return mine.add(theirs)


class Recorder:
    """Per app x phase x kind latency histograms and outcome counts, plus a 1 s timeline.

    ``record`` only appends a tuple to a deque (atomic, so no lock on the hot path: under
    gevent a lock alone costs ~0.5 us); every ``batch`` rows, and before anything reads, the
    buffer is folded into the histograms with numpy (``Histogram.record_many_us``) under the
    lock. That is what keeps the per-request cost near a microsecond.
    """

    def __init__(self, batch: int = 2048) -> None:
        self._lock = threading.Lock()
        self._batch = batch
        self._pending: deque[tuple] = deque()
        self._cells: dict[tuple[str, str, str], _Cell] = {}
        self._ticks: dict[tuple[str, str, int], _Tick] = {}
        self._newest_second = -(2**62)

    # -- the hot path ------------------------------------------------------------------------

    def record(
        self,
        app: str,
        kind: str,
        phase: str,
        *,
        intended_start: float | None,
        actual_start: float,
        end: float,
        outcome: str,
        ttft: float | None = None,
    ) -> None:
        """Record one finished request. Times in seconds (``time.time()``); ``ttft`` in seconds
        from the actual send. ``outcome`` is one of ``OUTCOMES`` (see ``classify_*``)."""
        if outcome not in _OUTCOME_SET:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
        # a request sent early (intended after actual) has waited no extra time
        start = actual_start if intended_start is None or intended_start > actual_start else intended_start
        self._pending.append((app, phase, kind, end - start, end - actual_start, outcome, ttft, end))
        if len(self._pending) >= self._batch:
            self.flush()

    def dropped(self, app: str, kind: str, phase: str, n: int = 1) -> None:
        """An arrival of the open model's schedule that was never sent: a failure of the run
        (the load generator could not deliver its load), not of the app."""
        with self._lock:
            cell = self._cells.get((app, phase, kind))
            if cell is None:
                cell = self._cells[(app, phase, kind)] = _Cell()
            cell.dropped += n

    def dropped_total(self, app: str) -> int:
        """Every arrival of ``app`` dropped so far, all phases (the live view's tile)."""
        with self._lock:
            return sum(c.dropped for (a, _, _), c in self._cells.items() if a == app)

    def _fold_locked(self) -> None:
        # take exactly the rows present now; rows appended meanwhile wait for the next fold
        pending = self._pending
        rows = [pending.popleft() for _ in range(len(pending))]
        if not rows:
            return
        groups: dict[tuple[str, str, str], list[tuple]] = {}
        for row in rows:
            key = row[:3]
            group = groups.get(key)
            if group is None:
                groups[key] = [row]
            else:
                group.append(row)
        for (app, phase, kind), group in groups.items():
            cell = self._cells.get((app, phase, kind))
            if cell is None:
                cell = self._cells[(app, phase, kind)] = _Cell()
            _, _, _, rt, st, outcomes, ttfts, ends = zip(*group, strict=True)
            rt_us = np.asarray(rt, dtype=np.float64) * 1_000_000.0
            ok = np.fromiter((o == "ok" for o in outcomes), dtype=bool, count=len(group))
            n_ok = int(ok.sum())
            cell.requests += len(group)
            cell.ok += n_ok
            # response minus service time is how long after its intended time it was sent
            cell.late += int(np.count_nonzero(np.asarray(rt, dtype=np.float64) - np.asarray(st, dtype=np.float64)
                                              > LATE_AFTER_S))
            if n_ok < len(group):
                for o in outcomes:
                    if o != "ok":
                        cell.errors[o] = cell.errors.get(o, 0) + 1
            cell.response_time.record_many_us(rt_us)
            cell.service_time.record_many_us(np.asarray(st, dtype=np.float64) * 1_000_000.0)
            if n_ok:
                if cell.ok_response_time is None:
                    cell.ok_response_time = Histogram()
                cell.ok_response_time.record_many_us(rt_us[ok])
            ttft_s = [t for t in ttfts if t is not None]
            if ttft_s:
                if cell.ttft is None:
                    cell.ttft = Histogram()
                cell.ttft.record_many_us(np.asarray(ttft_s, dtype=np.float64) * 1_000_000.0)
            seconds = np.floor(np.asarray(ends, dtype=np.float64)).astype(np.int64)
            for second in np.unique(seconds):
                mask = seconds == second
                tkey = (app, kind, int(second))
                tick = self._ticks.get(tkey)
                if tick is None:
                    tick = self._ticks[tkey] = _Tick()
                n = int(mask.sum())
                n_ok_s = int((ok & mask).sum())
                tick.requests += n
                tick.ok += n_ok_s
                tick.errors += n - n_ok_s
                tick.hist().record_many_us(rt_us[mask])
                self._newest_second = max(self._newest_second, int(second))
        self._compact_ticks_locked()

    def _compact_ticks_locked(self) -> None:
        horizon = self._newest_second - _OPEN_SECONDS
        for (_, _, second), tick in self._ticks.items():
            if second < horizon:
                tick.compact()

    def flush(self) -> None:
        """Fold buffered rows into the histograms (every reader does this first)."""
        with self._lock:
            self._fold_locked()

    # -- shipping and merging ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe snapshot (histograms HDR-encoded); ``from_dict`` / ``merge`` read it."""
        with self._lock:
            self._fold_locked()
            return self._to_dict_locked()

    def drain(self) -> dict[str, Any]:
        """``to_dict`` and reset in one step: what a Locust worker ships to the master each report."""
        with self._lock:
            self._fold_locked()
            out = self._to_dict_locked()
            self._cells = {}
            self._ticks = {}
            return out

    def _to_dict_locked(self) -> dict[str, Any]:
        return {
            "version": _WIRE_VERSION,
            "cells": [
                {
                    "app": app,
                    "phase": phase,
                    "kind": kind,
                    "requests": c.requests,
                    "ok": c.ok,
                    "errors": dict(c.errors),
                    "response_time": _enc(c.response_time),
                    "service_time": _enc(c.service_time),
                    "ok_response_time": _enc(c.ok_response_time),
                    "ttft": _enc(c.ttft),
                    "dropped": c.dropped,
                    "late": c.late,
                }
                for (app, phase, kind), c in self._cells.items()
            ],
            "ticks": [
                {
                    "app": app,
                    "kind": kind,
                    "second": second,
                    "requests": t.requests,
                    "ok": t.ok,
                    "errors": t.errors,
                    "response_time": t.wire(),
                }
                for (app, kind, second), t in self._ticks.items()
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recorder:
        rec = cls()
        rec.merge(data)
        return rec

    def merge(self, other: Recorder | Mapping[str, Any]) -> Recorder:
        """Add another recorder (or its ``to_dict``) into this one. Exact: counts add and HDR
        histograms add bucket by bucket, so merged percentiles equal those of one recorder that
        saw every request."""
        data = other.to_dict() if isinstance(other, Recorder) else other
        if data.get("version") != _WIRE_VERSION:
            raise ValueError(f"recorder data version {data.get('version')!r}, expected {_WIRE_VERSION}")
        cells = [(c, {k: _dec(c.get(k)) for k in _HISTS}) for c in data.get("cells", [])]
        ticks = [(t, _dec(t["response_time"])) for t in data.get("ticks", [])]
        with self._lock:
            self._fold_locked()
            for c, hists in cells:
                key = (c["app"], c["phase"], c["kind"])
                cell = self._cells.get(key)
                if cell is None:
                    cell = self._cells[key] = _Cell()
                cell.requests += int(c["requests"])
                cell.ok += int(c["ok"])
                cell.dropped += int(c.get("dropped", 0))
                cell.late += int(c.get("late", 0))
                for name, n in c.get("errors", {}).items():
                    cell.errors[name] = cell.errors.get(name, 0) + int(n)
                cell.response_time = _merge_into(cell.response_time, hists["response_time"])
                cell.service_time = _merge_into(cell.service_time, hists["service_time"])
                cell.ok_response_time = _merge_into(cell.ok_response_time, hists["ok_response_time"])
                cell.ttft = _merge_into(cell.ttft, hists["ttft"])
            for t, hist in ticks:
                key = (t["app"], t["kind"], int(t["second"]))
                tick = self._ticks.get(key)
                if tick is None:
                    tick = self._ticks[key] = _Tick()
                tick.requests += int(t["requests"])
                tick.ok += int(t["ok"])
                tick.errors += int(t["errors"])
                _merge_into(tick.hist(), hist)
                self._newest_second = max(self._newest_second, int(t["second"]))
            self._compact_ticks_locked()
        return self

    # -- reading -----------------------------------------------------------------------------

    def apps(self) -> list[str]:
        with self._lock:
            self._fold_locked()
            return sorted({app for app, _, _ in self._cells})

    def phases(self, app: str) -> list[str]:
        with self._lock:
            self._fold_locked()
            return sorted({phase for a, phase, _ in self._cells if a == app})

    def kinds(self, app: str) -> list[str]:
        with self._lock:
            self._fold_locked()
            return sorted({kind for a, _, kind in self._cells if a == app})

    def histogram(self, app: str, phase: str, kind: str | None = None, which: str = "response_time") -> Histogram:
        """A copy of one histogram (``which``: response_time, service_time, ok_response_time,
        ttft); ``kind=None`` merges every kind."""
        if which not in _HISTS:
            raise ValueError(f"unknown histogram {which!r}; expected one of {', '.join(_HISTS)}")
        out = Histogram()
        with self._lock:
            self._fold_locked()
            for (a, p, k), cell in self._cells.items():
                if a == app and p == phase and (kind is None or k == kind):
                    h = getattr(cell, which)
                    if h is not None:
                        out.add(h)
        return out

    def client_stats(self, app: str, phase: str) -> ClientStats:
        """The ``client`` block of results.json for one app and phase."""
        with self._lock:
            self._fold_locked()
            cells = {k: c for (a, p, k), c in self._cells.items() if a == app and p == phase}
            by_kind = {kind: _kind_stats([c]) for kind, c in sorted(cells.items())}
            total = _kind_stats(list(cells.values()))
        return ClientStats(**total.model_dump(), by_kind=by_kind)

    def intervals(self, app: str, t0: float, since: int | None = None) -> list[Interval]:
        """The app's 1 s timeline, ``t_s`` = start of the second relative to ``t0``; ``since``
        (an epoch second) keeps only that second and later (the live view reads only the newest)."""
        with self._lock:
            self._fold_locked()
            rows = [(k, s, t) for (a, k, s), t in self._ticks.items()
                    if a == app and (since is None or s >= since)]
            out = []
            for kind, second, t in sorted(rows, key=lambda r: (r[1], r[0])):
                h = t.hist() if t._encoded is None else _dec(t._encoded)  # reading does not re-inflate
                ps = h.percentiles_us([50.0, 99.0])
                out.append(
                    Interval(
                        t_s=round(second - t0, 3),
                        kind=kind,
                        requests=t.requests,
                        ok=t.ok,
                        errors=t.errors,
                        p50_us=ps[50.0],
                        p99_us=ps[99.0],
                        hdr=h.encode(),
                    )
                )
        return out


_HISTS = ("response_time", "service_time", "ok_response_time", "ttft")


def _kind_stats(cells: Iterable[_Cell]) -> KindStats:
    cells = list(cells)
    errors = {k: 0 for k in ERROR_CLASSES}
    hists: dict[str, Histogram | None] = {name: None for name in _HISTS}
    for c in cells:
        for name, n in c.errors.items():
            errors[name] += n
        for name in _HISTS:
            hists[name] = _merge_into(hists[name], getattr(c, name))
    return KindStats(
        requests=sum(c.requests for c in cells),
        ok=sum(c.ok for c in cells),
        dropped=sum(c.dropped for c in cells),
        late=sum(c.late for c in cells),
        errors=errors,
        latency=Latency(
            response_time=Summary.of(hists["response_time"] or Histogram()),
            service_time=Summary.of(hists["service_time"] or Histogram()),
            ttft=Summary.of(hists["ttft"]) if hists["ttft"] is not None else None,
            ok_response_time=Summary.of(hists["ok_response_time"]) if hists["ok_response_time"] is not None else None,
        ),
    )
