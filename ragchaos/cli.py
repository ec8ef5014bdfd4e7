"""The ``ragchaos`` command.

Each part registers its own subcommands from a ``cli`` module with a
``register(subparsers)`` function, so adding a command means adding to that part's file, not
growing this one. A part that is not installed yet is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ragchaos.core.errors import CliError

__all__ = ["CliError", "main"]

# the parts that contribute subcommands, in help order
PART_CLIS = (
    "ragchaos.scenarios.cli",
    "ragchaos.scenarios.gate_cli",
    "ragchaos.reports.cli",
    "ragchaos.provider.cli",
    "ragchaos.faults.cli",
    "ragchaos.naive_app.cli",
    "ragchaos.reference_app.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragchaos",
        description="Chaos and load testing for RAG services: naive versus production, under the same faults.",
    )
    from ragchaos import __version__

    parser.add_argument("--version", action="version", version=f"ragchaos {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in PART_CLIS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # that part is not there yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except CliError as exc:
        print(f"ragchaos: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ragchaos: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
