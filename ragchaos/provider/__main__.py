"""``python -m ragchaos.provider serve --host 127.0.0.1 --port N [--config FILE]``; ``serve`` may be omitted."""

from __future__ import annotations

import argparse
import sys

from ragchaos.core.errors import CliError
from ragchaos.provider.cli import add_serve_arguments, run_serve


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m ragchaos.provider", description="The simulated OpenAI-compatible provider.")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_serve(args)
    except CliError as exc:
        print(f"provider: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
