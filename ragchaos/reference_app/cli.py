"""``ragchaos reference serve --host 127.0.0.1 --port N`` (configured by RAGCHAOS_* variables), and
``ragchaos reference dead-letters list|show|replay|purge`` against a running app (ingest_admin.py)."""

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
    sub = add_serve_command(subparsers, "reference", "the reference RAG app (what production needs)", _settings, _app)
    from ragchaos.reference_app.ingest_admin import add_dead_letter_command

    add_dead_letter_command(sub)
