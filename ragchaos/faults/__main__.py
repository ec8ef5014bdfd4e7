"""``python -m ragchaos.faults [serve] --host 127.0.0.1 --port 8474 [--config populate.json]``."""

import sys

from ragchaos.core.errors import CliError
from ragchaos.faults.cli import build_serve_parser, run_serve

argv = sys.argv[1:]
if argv[:1] == ["serve"]:
    argv = argv[1:]
try:
    sys.exit(run_serve(build_serve_parser().parse_args(argv)))
except CliError as exc:
    print(f"python -m ragchaos.faults: error: {exc}", file=sys.stderr)
    sys.exit(2)
except KeyboardInterrupt:
    sys.exit(130)
