"""The App API's request and response bodies (docs/contracts.md, "App API").

Validation here is the first line of the "bad input is a 4xx, never a 500" rule: identifiers
are short and plain, metadata is flat and scalar, and sizes are checked against the settings'
limits by ``check_limits`` (the limits are configuration, so they are not baked into types).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

__all__ = [
    "DocumentAccepted",
    "DocumentIndexed",
    "DocumentRequest",
    "JobStatus",
    "QueryRequest",
    "Clamp",
    "QueryResponse",
    "RESERVED_METADATA",
    "Source",
]

# the vector store keeps 64-bit integers and finite floats; anything else fails there, later
Int64 = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
Scalar = str | bool | Int64 | Annotated[float, Field(allow_inf_nan=False)]
IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$"
# a metadata or filter key: plain, so the vector store never reads it as an operator ("$and")
METADATA_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/ -]{0,63}$")
# keys the apps set themselves; user metadata and filters may not touch them
RESERVED_METADATA = frozenset({"tenant", "doc_id", "chunk_index"})


def _no_wide_ints(v: object, what: str) -> object:
    """Before the union sees it: an integer past 64 bits would silently become an inexact float."""
    if isinstance(v, dict):
        for key, value in v.items():
            if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
                raise ValueError(f"{what} value of {str(key)[:80]!r} is an integer past 64 bits")
    return v


def _check_flat(v: dict[str, Scalar] | None, what: str) -> dict[str, Scalar] | None:
    if v is None:
        return v
    if len(v) > 16:
        raise ValueError(f"{what} may have at most 16 keys")
    for key in v:
        if key in RESERVED_METADATA:
            raise ValueError(f"{what} key {key!r} is reserved")
        if not METADATA_KEY.match(key):
            raise ValueError(f"{what} key {key[:80]!r} is not 1-64 characters of letters, digits and _.:@/- "
                             "starting with a letter or digit (operators such as $and are not filters)")
    return v


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(pattern=IDENT)
    question: str = Field(min_length=1)
    top_k: StrictInt | None = Field(default=None, ge=1)  # "5" and true are not numbers of results
    filters: dict[str, Scalar] | None = None
    stream: bool = False

    @field_validator("question")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("question must not be blank")
        return v

    @field_validator("filters", mode="before")
    @classmethod
    def _filter_ints(cls, v: object) -> object:
        return _no_wide_ints(v, "filters")

    @field_validator("filters")
    @classmethod
    def _filters(cls, v: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
        return _check_flat(v, "filters")


class Source(BaseModel):
    doc_id: str
    chunk_id: str
    score: float


class Clamp(BaseModel):
    """A request value the app lowered to its limit instead of refusing it."""

    requested: int
    used: int


class QueryResponse(BaseModel):
    answer: str
    sources: list[Source]
    cached: Literal["response", "semantic"] | None = None
    degraded: Literal[False] | str = False
    # {"top_k": {"requested": 50, "used": 20}} when a value was clamped; null otherwise
    clamped: dict[str, Clamp] | None = None


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

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_ints(cls, v: object) -> object:
        return _no_wide_ints(v, "metadata")

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
