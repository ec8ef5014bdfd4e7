"""``ragchaos reference serve --host 127.0.0.1 --port N`` (configured by RAGCHAOS_* variables)."""

from __future__ import annotations

from typing import Any

from ragchaos.kit.server import add_serve_command

__all__ = ["register"]


def _settings() -> Any:
    from ragchaos.reference_app.settings import ReferenceSettings

    return ReferenceSettings()


def _app(settings: Any) -> Any:
    from ragchaos.reference_app.app import create_app

    return create_app(settings)


def register(subparsers: Any) -> None:
    add_serve_command(subparsers, "reference", "the reference RAG app (what production needs)", _settings, _app)
