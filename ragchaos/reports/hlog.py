"""``hdr/*.hlog``: HdrHistogram interval logs (format 1.2), readable by the standard tools
(HistogramLogProcessor, hdrh.log.HistogramLogReader, HdrHistogram's web plotters).

Per app and request kind:
- ``<app>.<kind>.hlog``: response time per 1 s interval (2 significant figures), timestamps
  relative to the run start (``#[BaseTime]``).
- ``<app>.<kind>.phases.hlog``: one interval per phase, response time at 3 significant figures.
- ``<app>.<kind>.service.phases.hlog``: the same for service time.
Values are microseconds; ``Interval_Max`` is in milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from hdrh.log import HistogramLogWriter

from ragchaos.measure.hdr import Histogram
from ragchaos.reports.results import RunResult

__all__ = ["write_hlogs"]

_US_PER_MS = 1000.0


def _header(f: TextIO, result: RunResult, what: str) -> HistogramLogWriter:
    w = HistogramLogWriter(f)
    start = result.run.started_at
    w.output_comment(f"[Logged with ragchaos: {result.scenario.name}, {what}, values in microseconds]")
    w.output_log_format_version()
    # hdrh's own output_start_time is broken (calls datetime.iso_format); write the line ourselves
    stamp = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S")
    f.write(f"#[StartTime: {start:.3f} (seconds since epoch), {stamp}]\n")
    f.write(f"#[BaseTime: {start:.3f} (seconds since epoch)]\n")
    w.output_legend()
    return w


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def write_hlogs(result: RunResult, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for app, a in result.apps.items():
        kinds = sorted({i.kind for i in a.intervals} | {k for p in a.phases.values() for k in p.client.by_kind})
        for kind in kinds:
            rows = sorted((i for i in a.intervals if i.kind == kind and i.hdr), key=lambda i: i.t_s)
            if rows:
                path = out / f"{_safe(app)}.{_safe(kind)}.hlog"
                with path.open("w") as f:
                    w = _header(f, result, f"{app} {kind} response time per second")
                    for i in rows:
                        assert i.hdr is not None  # rows holds only the seconds that carry a histogram
                        h = Histogram.decode(i.hdr).raw
                        w.output_interval_histogram(h, max(i.t_s, 0.0) or 1e-9, i.t_s + 1.0, _US_PER_MS)
                written.append(path)
            for which, suffix in (("response_time", "phases"), ("service_time", "service.phases")):
                entries = []
                for phase_name, pr in a.phases.items():
                    ks = pr.client.by_kind.get(kind)
                    span = result.phase(phase_name)
                    if ks is None or span is None:
                        continue
                    summary = getattr(ks.latency, which)
                    if summary.count and summary.hdr:
                        entries.append((span.start_s, span.end_s, phase_name, summary))
                if not entries:
                    continue
                path = out / f"{_safe(app)}.{_safe(kind)}.{suffix}.hlog"
                with path.open("w") as f:
                    w = _header(f, result, f"{app} {kind} {which.replace('_', ' ')} per phase")
                    for start, end, name, summary in sorted(entries, key=lambda e: e[0]):
                        w.output_comment(f"phase {name}: {start:g}s..{end:g}s")
                        w.output_interval_histogram(summary.histogram().raw, max(start, 0.0) or 1e-9, end, _US_PER_MS)
                written.append(path)
    return written
