"""What every benchmark shares: the ``--quick`` and ``--json`` options and the figure file.

``make bench`` (``benchmarks/run_all.py``) runs each benchmark as
``python benchmarks/<name>.py --quick --json <file>``:

- ``--quick`` swaps the benchmark's defaults for small ones (seconds, not minutes). An option
  given on the command line still wins. A quick figure shows that the benchmark runs and
  roughly where the figure lies; it has too few samples to quote: BENCHMARKS.md quotes the
  full settings only.
- ``--json FILE`` writes the figures together with how and when they were measured: the
  command, the UTC time, the machine, and the load average at the start and at the end (on a
  shared machine a figure means little without it).

A benchmark may add a ``headline`` mapping (label -> value as text) to its figures; the runner
prints those lines next to the file they came from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_average", "parse", "write"]


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (the machine is shared: read each figure beside them)."""
    return [round(x, 2) for x in os.getloadavg()]


def parse(parser: argparse.ArgumentParser, quick: Mapping[str, Any],
          argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Add ``--quick`` and ``--json`` to ``parser`` and parse ``argv``.

    ``quick`` maps option destinations to their quick values; with ``--quick`` they replace the
    defaults, so an option given explicitly still wins.
    """
    shown = ", ".join(f"--{k.replace('_', '-')} {_shown(v)}" for k, v in quick.items())
    parser.add_argument("--quick", action="store_true",
                        help=f"small settings for make bench: {shown or 'the defaults'}")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="write the figures, the command, the date and the load average here")
    unknown = sorted(set(quick) - {a.dest for a in parser._actions})
    if unknown:  # a typo here would silently run the full settings under --quick
        raise ValueError(f"quick settings for options this benchmark does not have: {', '.join(unknown)}")
    first, _ = parser.parse_known_args(argv)
    if first.quick:
        parser.set_defaults(**quick)
    args = parser.parse_args(argv)
    args.started = time.time()
    args.load_at_start = load_average()
    return args


def write(args: argparse.Namespace, figures: Mapping[str, Any]) -> Path | None:
    """Write ``figures`` to ``args.json`` (if given) with how they were measured; its path."""
    path: Path | None = args.json
    if path is None:
        return None
    record = {
        "benchmark": Path(sys.argv[0]).stem,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "quick": bool(args.quick),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(args.started)),
        "seconds": round(time.time() - args.started, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": {"start": args.load_at_start, "end": load_average()},
        "figures": dict(figures),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path


def _shown(value: Any) -> str:
    return " ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
