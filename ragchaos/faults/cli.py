"""``ragchaos toxiproxy serve``: the built-in Toxiproxy-compatible fault proxy."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["build_serve_parser", "register", "run_serve"]


def _add_serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port (default 8474)")
    parser.add_argument("--config", type=Path, default=None, help="populate.json loaded at startup")
    parser.add_argument("--seed", type=int, default=None, help="seed for toxicity rolls (repeatable runs)")
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host and proxy listen addresses"
    )
    parser.add_argument(
        "--no-call-timing", action="store_true",
        help="do not time the calls each proxy carries (GET /ragchaos/calls is then 404, as on a real Toxiproxy)",
    )
    parser.set_defaults(func=run_serve)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("toxiproxy", help="the built-in Toxiproxy-compatible fault proxy")
    sub = parser.add_subparsers(dest="toxiproxy_command", metavar="SUBCOMMAND")
    serve = sub.add_parser("serve", help="serve the Toxiproxy 2.12.0 HTTP API and the proxies it creates")
    _add_serve_args(serve)


def build_serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ragchaos.faults", description="the built-in Toxiproxy-compatible proxy")
    _add_serve_args(parser)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    from ragchaos.core.errors import CliError
    from ragchaos.core.ports import is_loopback_host

    if not is_loopback_host(args.host) and not args.allow_remote:
        raise CliError(f"--host {args.host} is not a loopback address; add --allow-remote to bind it")
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port} is not a TCP port")
    if args.config is not None and not args.config.is_file():
        raise CliError(f"--config {args.config}: no such file")
    from ragchaos.faults.server import ServerSettings, serve

    return serve(
        ServerSettings(
            host=args.host, port=args.port, config=args.config, seed=args.seed, allow_remote=args.allow_remote,
            call_timing=not args.no_call_timing,
        )
    )
