"""``<part> serve --host 127.0.0.1 --port N``: the command both apps register.

Settings come from the environment (docs/contracts.md); a bad variable is a one-line CLI
error naming it, not a traceback. Servers bind loopback unless ``--allow-remote``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from ragchaos.core.errors import CliError
from ragchaos.core.ports import is_loopback_host
from ragchaos.kit.logs import configure_logging
from ragchaos.kit.settings import AppSettings

__all__ = ["add_serve_command", "part_main"]

SettingsFactory = Callable[[], AppSettings]
AppFactory = Callable[[Any], Any]


def _field_error(e: Any) -> str:
    msg = str(e["msg"]).removeprefix("Value error, ")
    if msg.startswith("RAGCHAOS_"):
        return msg  # the validator already named the variable
    return f"RAGCHAOS_{'_'.join(str(p) for p in e['loc']).upper()}: {msg}"


def load_settings(factory: SettingsFactory) -> AppSettings:
    try:
        return factory()
    except ValidationError as exc:
        msgs = "; ".join(
            _field_error(e) for e in exc.errors()
        )
        raise CliError(f"bad configuration: {msgs}") from None
    except ValueError as exc:
        raise CliError(f"bad configuration: {exc}") from None


def add_serve_command(
    subparsers: Any, name: str, help: str, settings_factory: SettingsFactory, app_factory: AppFactory
) -> Any:
    """Adds ``<name> serve``; returns the part's subcommand set, for its other commands."""
    part = subparsers.add_parser(name, help=help)
    sub = part.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    serve = sub.add_parser("serve", help=f"run the {name} app (configured by RAGCHAOS_* variables)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only unless --allow-remote; "
                       "default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="TCP port to listen on (default 8080)")
    serve.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")

    def run(args: argparse.Namespace) -> int:
        if not is_loopback_host(args.host) and not args.allow_remote:
            raise CliError(f"--host {args.host} is not loopback; pass --allow-remote to bind it")
        settings = load_settings(settings_factory)
        configure_logging(settings.app_name, settings.log_level)
        try:
            app = app_factory(settings)
        except ValueError as exc:
            raise CliError(f"bad configuration: {exc}") from None
        import uvicorn

        from ragchaos.kit.slowclients import ReadLimits, protocol_options

        guard = ReadLimits(read_timeout_s=settings.request_read_timeout_s,
                           max_reading=settings.max_reading_connections)
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False,
                    timeout_keep_alive=settings.keep_alive_s,
                    timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s), **protocol_options(guard))
        return 0

    serve.set_defaults(func=run)
    part.set_defaults(func=lambda args: part.print_help() or 2)
    return sub


def part_main(register: Callable[[Any], None], argv: Sequence[str] | None = None) -> int:
    """``python -m <part> serve ...``: the part's own subcommands without the ``ragchaos`` prefix."""
    parser = argparse.ArgumentParser(prog="ragchaos")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    names = list(sub.choices)
    args = parser.parse_args([names[0], *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"ragchaos: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
