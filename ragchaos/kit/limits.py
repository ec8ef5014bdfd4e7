"""The API's size limits, checked against the settings (documented in docs/apps.md)."""

from __future__ import annotations

from ragchaos.kit.errors import ApiError
from ragchaos.kit.schemas import DocumentRequest, QueryRequest
from ragchaos.kit.settings import AppSettings

__all__ = ["check_document", "check_query"]


def check_query(req: QueryRequest, settings: AppSettings) -> int:
    """Validate a query against the limits; returns the effective top_k."""
    if len(req.question) > settings.max_question_chars:
        raise ApiError(422, "invalid_request", f"question: longer than {settings.max_question_chars} characters")
    top_k = req.top_k if req.top_k is not None else settings.default_top_k
    if not 1 <= top_k <= settings.max_top_k:
        raise ApiError(422, "invalid_request", f"top_k: must be between 1 and {settings.max_top_k}")
    return top_k


def check_document(req: DocumentRequest, settings: AppSettings) -> None:
    if len(req.text) > settings.max_doc_chars:
        raise ApiError(413, "document_too_large", f"text: longer than {settings.max_doc_chars} characters")
