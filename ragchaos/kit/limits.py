"""The API's size limits, checked against the settings (documented in docs/apps.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ragchaos.kit.errors import ApiError
from ragchaos.kit.schemas import Clamp, DocumentRequest, QueryRequest, QueryResponse
from ragchaos.kit.settings import AppSettings

__all__ = ["QueryLimits", "check_document", "check_query"]


@dataclass(frozen=True)
class QueryLimits:
    """What a query may use after the limits: its top_k, and what was lowered to get there."""

    top_k: int
    clamped: dict[str, Clamp] = field(default_factory=dict)

    def report(self, body: QueryResponse) -> QueryResponse:
        """The answer with the clamps said out loud (a cached body never carries another request's)."""
        return body.model_copy(update={"clamped": dict(self.clamped) or None})


def check_query(req: QueryRequest, settings: AppSettings) -> QueryLimits:
    """Validate a query against the limits; a top_k above the maximum is lowered and reported."""
    if len(req.question) > settings.max_question_chars:
        raise ApiError(422, "invalid_request", f"question: longer than {settings.max_question_chars} characters")
    top_k = req.top_k if req.top_k is not None else settings.default_top_k
    if top_k < 1:
        raise ApiError(422, "invalid_request", "top_k: must be at least 1")
    if top_k > settings.max_top_k:
        return QueryLimits(settings.max_top_k, {"top_k": Clamp(requested=top_k, used=settings.max_top_k)})
    return QueryLimits(top_k)


def check_document(req: DocumentRequest, settings: AppSettings) -> None:
    if len(req.text) > settings.max_doc_chars:
        raise ApiError(413, "document_too_large", f"text: longer than {settings.max_doc_chars} characters")
