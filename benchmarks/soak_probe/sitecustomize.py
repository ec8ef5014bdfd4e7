"""What grows in the reference app during a soak: a probe loaded through ``PYTHONPATH``.

``bench_soak.py --probe`` puts this folder on ``PYTHONPATH``; every process the run starts
imports it, and it acts only in the reference app (``... reference serve ...``), so the app's
code is unchanged. In that process it starts tracemalloc and, every ``RAGCHAOS_PROBE_EVERY``
seconds, appends one JSON line to ``$RAGCHAOS_PROBE_DIR/probe-<pid>.jsonl``: VmRSS, the bytes
tracemalloc traces, live objects by type (top 40), the size of every cache layer, asyncio
tasks, glibc's ``mallinfo2`` (in use vs free but kept), and a tracemalloc snapshot dumped to a
file for diffing afterwards. Python allocations show up in the snapshots; RSS growth they do
not explain is the allocator's (free memory kept in arenas) or a native library's.
``RAGCHAOS_PROBE_FRAMES=0`` leaves tracemalloc off (its own memory and pauses distort RSS);
even then the app's RSS under the probe was ~50 MiB above a run without it (2026-11-22): read
the probe's components (in use, kept, entries), never its RSS, against a run without it.
``RAGCHAOS_PROBE_TRIM=<s>`` (``bench_soak.py --trim``) only calls ``malloc_trim(0)`` every
``<s>`` seconds (no probe): the RSS growth that remains is memory in use.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path


def _argv() -> list[str]:
    try:
        return Path("/proc/self/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _sizes(objects: list[object]) -> dict[str, int]:
    """Entries of each cache layer and semantic cache, found among the live objects."""
    out: dict[str, int] = {}
    for obj in objects:
        kind = type(obj).__name__
        if kind == "LayerCache":
            out[f"layer.{obj.layer}"] = len(obj)
        elif kind == "SemanticCache":
            parts = getattr(obj, "_parts", None) or getattr(obj, "_partitions", {})
            out["semantic.partitions"] = len(parts)
            out["semantic.entries"] = sum(len(p.entries) for p in parts.values())
        elif kind == "CollectorRegistry":
            out["prometheus.samples"] = out.get("prometheus.samples", 0) + sum(
                len(m.samples) for m in obj.collect())
    return out


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def _malloc() -> dict[str, int]:
    """glibc's view (KiB): from the system in arenas and mmaps, in use, free but kept."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
        m = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    return {"arena": m.arena // 1024, "mmap": m.hblkhd // 1024, "in_use": m.uordblks // 1024,
            "free": m.fordblks // 1024}


def _pymalloc() -> dict[str, int]:
    """pymalloc's arenas (its own mmaps, outside glibc's count), from ``sys._debugmallocstats``
    (it writes to fd 2 only: that fd points at a file for the moment of the call)."""
    import re
    import sys
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        try:
            os.dup2(tmp.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    out = {}
    for key, pattern in (("arenas", r"# arenas allocated current\s*=\s*([\d,]+)"),
                         ("used_kib", r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
                         ("free_kib", r"# bytes in available blocks\s*=\s*([\d,]+)")):
        m = re.search(pattern, text)
        if m:
            value = int(m.group(1).replace(",", ""))
            out[key] = value if key == "arenas" else value // 1024
    return out


def _tasks() -> int:
    import asyncio

    return sum(1 for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done())


def _loop(out_dir: Path, every: float) -> None:
    t0 = time.monotonic()
    path = out_dir / f"probe-{os.getpid()}.jsonl"
    n = 0
    while True:
        time.sleep(every)
        n += 1
        objects = gc.get_objects()
        types = Counter(type(o).__name__ for o in objects)
        row = {
            "t": round(time.monotonic() - t0, 1), "rss_kib": _rss_kib(),
            "traced_kib": tracemalloc.get_traced_memory()[0] // 1024,
            "objects": len(objects), "types": dict(types.most_common(40)), "sizes": _sizes(objects),
            "tasks": _tasks(), "gc_counts": gc.get_count(), "malloc_kib": _malloc(),
            "pymalloc": _pymalloc(), "threads": threading.active_count(),
        }
        del objects
        if tracemalloc.is_tracing():
            snap = out_dir / f"snap-{os.getpid()}-{n:03d}.pickle"
            tracemalloc.take_snapshot().dump(str(snap))
            row["snapshot"] = str(snap)
        with path.open("a") as f:
            f.write(json.dumps(row) + "\n")


def _trim(every: float) -> None:
    """glibc's ``malloc_trim(0)`` every ``every`` seconds: hands free pages inside the heap back
    to the system, so RSS shows what is in use rather than the allocator's high-water mark."""
    libc = ctypes.CDLL("libc.so.6")
    while True:
        time.sleep(every)
        libc.malloc_trim(0)


def _install() -> None:
    out = os.environ.get("RAGCHAOS_PROBE_DIR")
    trim = os.environ.get("RAGCHAOS_PROBE_TRIM")
    argv = _argv()
    if "reference" not in argv or "serve" not in argv:
        return
    if trim:  # a diagnostic: how much of the RSS growth is memory freed but kept by glibc
        threading.Thread(target=_trim, args=(float(trim),), name="soak-trim", daemon=True).start()
    if not out:
        return
    frames = int(os.environ.get("RAGCHAOS_PROBE_FRAMES", "8"))
    if frames > 0:  # 0: counts, sizes and malloc only (RSS then close to a run without the probe)
        tracemalloc.start(frames)
    every = float(os.environ.get("RAGCHAOS_PROBE_EVERY", "30"))
    threading.Thread(target=_loop, args=(Path(out), every), name="soak-probe", daemon=True).start()


_install()
