"""``ragchaos provider serve --host 127.0.0.1 --port N [--config FILE]`` (and ``python -m ragchaos.provider``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ragchaos.core.errors import CliError
from ragchaos.core.ports import is_loopback_host

__all__ = ["add_serve_arguments", "register", "run_serve"]


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only; default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--config", type=Path, default=None,
                        help="YAML or JSON file: keys, limits, latency model, prices (see ragchaos/provider/config.py)")
    parser.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                        help="how much the server logs (default: warning)")


def run_serve(args: argparse.Namespace) -> int:
    from ragchaos.provider.config import ConfigError, load_config
    from ragchaos.provider.server import serve

    if not is_loopback_host(args.host) and not args.allow_remote:
        raise CliError(f"--host {args.host} is not a loopback address; add --allow-remote if you mean it")
    if not 0 < args.port < 65536:
        raise CliError(f"--port {args.port} is not a TCP port")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    serve(config, args.host, args.port, args.log_level)
    return 0


def register(subparsers: Any) -> None:
    provider = subparsers.add_parser("provider", help="the simulated OpenAI-compatible provider")
    sub = provider.add_subparsers(dest="provider_command", metavar="SUBCOMMAND")
    serve = sub.add_parser("serve", help="serve /v1/embeddings, /v1/chat/completions, /_control/faults, /_stats")
    add_serve_arguments(serve)
    serve.set_defaults(func=run_serve)
    provider.set_defaults(func=lambda args: provider.print_help() or 2)
