"""The kit: what both apps share so they answer alike (schemas, chunking, prompt, vector records
and the tenant filter, input limits) and the FastAPI shell they start from."""

from ragchaos.kit.base import build_app
from ragchaos.kit.errors import ApiError, error_response
from ragchaos.kit.settings import AppSettings

__all__ = ["ApiError", "AppSettings", "build_app", "error_response"]
