"""The App API's request and response bodies (docs/contracts.md, "App API").

Validation here is the first line of the "bad input is a 4xx, never a 500" rule: identifiers
are short and plain, metadata is flat and scalar, and sizes are checked against the settings'
limits by ``check_limits`` (the limits are configuration, so they are not baked into types).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DocumentAccepted",
    "DocumentIndexed",
    "DocumentRequest",
    "JobStatus",
    "QueryRequest",
    "QueryResponse",
    "RESERVED_METADATA",
    "Source",
]

Scalar = str | int | float | bool
IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
# keys the apps set themselves; user metadata and filters may not touch them
RESERVED_METADATA = frozenset({"tenant", "doc_id", "chunk_index"})


def _check_flat(v: dict[str, Scalar] | None, what: str) -> dict[str, Scalar] | None:
    if v is None:
        return v
    if len(v) > 16:
        raise ValueError(f"{what} may have at most 16 keys")
    for key in v:
        if not key or len(key) > 64:
            raise ValueError(f"{what} keys must be 1-64 characters")
        if key in RESERVED_METADATA or key.startswith("_"):
            raise ValueError(f"{what} key {key!r} is reserved")
    return v


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(pattern=IDENT)
    question: str = Field(min_length=1)
    top_k: int | None = Field(default=None, ge=1)
    filters: dict[str, Scalar] | None = None
    stream: bool = False

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question must not be blank")
        return v

    @field_validator("filters")
    @classmethod
    def _filters(cls, v: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
        return _check_flat(v, "filters")


class Source(BaseModel):
    doc_id: str
    chunk_id: str
    score: float


class QueryResponse(BaseModel):
    answer: str
    sources: list[Source]
    cached: Literal["response", "semantic"] | None = None
    degraded: Literal[False] | str = False


class DocumentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(pattern=IDENT)
    doc_id: str = Field(pattern=IDENT)
    text: str = Field(min_length=1)
    metadata: dict[str, Scalar] | None = None

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("text must not be blank")
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
        return _check_flat(v, "metadata")


class DocumentIndexed(BaseModel):
    """Naive app (and the reference with its queue off): indexed before the answer."""

    doc_id: str
    chunks: int
    state: Literal["done"] = "done"


class DocumentAccepted(BaseModel):
    """Reference app: durably queued, indexed later."""

    job_id: str
    state: Literal["queued"] = "queued"


class JobStatus(BaseModel):
    job_id: str
    tenant: str
    doc_id: str
    state: Literal["queued", "running", "done", "failed"]
    attempts: int
    chunks: int | None = None
    error: str | None = None
    accepted_at: float
    finished_at: float | None = None
