"""Shared FastAPI plumbing for both apps: settings, errors, request ids, logs, ops routes."""

from ragchaos.appkit.base import build_app
from ragchaos.appkit.errors import ApiError, error_response
from ragchaos.appkit.settings import AppSettings

__all__ = ["ApiError", "AppSettings", "build_app", "error_response"]
