"""``ragchaos naive serve --host 127.0.0.1 --port N`` (configured by RAGCHAOS_* variables)."""

from __future__ import annotations

from typing import Any

from ragchaos.kit.server import add_serve_command
from ragchaos.kit.settings import AppSettings

__all__ = ["register"]


def _settings() -> AppSettings:
    from ragchaos.naive_app.app import NaiveSettings

    return NaiveSettings()


def _app(settings: Any) -> Any:
    from ragchaos.naive_app.app import create_app

    return create_app(settings)


def register(subparsers: Any) -> None:
    add_serve_command(subparsers, "naive", "the naive RAG app (what most demos do)", _settings, _app)
