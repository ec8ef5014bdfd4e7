"""Request templates: how one request of a run is said to a target, and how its sources come back.

A target's API is described, not coded: method, path, JSON body and headers with placeholders,
plus a JSON path to the source documents in the answer (for retrieval correctness)::

    query:
      method: POST
      path: /ask
      body: {q: "{question}", user: "{tenant}"}
      sources: "docs[*].id"

A string that is exactly one placeholder (``"{top_k}"``) is replaced by the value itself (an
int stays an int, ``{metadata}`` a mapping); inside a longer string the value is formatted in.
``{{`` and ``}}`` are literal braces. Our own apps are described by the same kind of template
(``ragchaos.stack.targets.BUILTIN_TARGETS``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "INGEST_PLACEHOLDERS",
    "QUERY_PLACEHOLDERS",
    "JsonPathError",
    "RequestTemplate",
    "extract",
    "parse_json_path",
    "placeholders_in",
]

# what a request of each kind can say; a name outside these is a mistake in the template
QUERY_PLACEHOLDERS = ("question", "tenant", "top_k", "stream", "target")
INGEST_PLACEHOLDERS = ("tenant", "doc_id", "text", "title", "metadata", "target")

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders_in(value: Any) -> list[str]:
    """Every placeholder name in a string, list or mapping (keys included), in order."""
    out: list[str] = []
    if isinstance(value, str):
        out += [m.group(1) for m in _PLACEHOLDER.finditer(value) if m.group(1)]
    elif isinstance(value, Mapping):
        for k, v in value.items():
            out += placeholders_in(k) + placeholders_in(v)
    elif isinstance(value, list):
        for v in value:
            out += placeholders_in(v)
    return out


def _fill(value: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1):
            return values[whole.group(1)]

        def one(m: re.Match[str]) -> str:
            if m.group(1) is None:
                return m.group(0)[0]  # {{ -> {, }} -> }
            v = values[m.group(1)]
            return str(v).lower() if isinstance(v, bool) else str(v)

        return _PLACEHOLDER.sub(one, value)
    if isinstance(value, Mapping):
        return {_fill(k, values): _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


class JsonPathError(ValueError):
    pass


_SEGMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_\-]*)|\[(\*|-?\d+)\]|\.")


def parse_json_path(path: str) -> list[str | int | None]:
    """``$.sources[*].doc_id`` -> ["sources", None, "doc_id"] (None: every element)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    out: list[str | int | None] = []
    pos = 0
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if m is None:
            raise JsonPathError(f"JSON path {path!r}: cannot read {text[pos:]!r} (use a.b[*].c or a[0])")
        if m.group(1):
            out.append(m.group(1))
        elif m.group(2):
            out.append(None if m.group(2) == "*" else int(m.group(2)))
        pos = m.end()
    if not out:
        raise JsonPathError(f"JSON path {path!r} names nothing")
    return out


def extract(data: Any, path: str) -> list[Any]:
    """Every value at ``path`` in ``data`` (missing keys give nothing, not an error)."""
    current = [data]
    for seg in parse_json_path(path):
        nxt: list[Any] = []
        for item in current:
            if isinstance(seg, str) and isinstance(item, Mapping) and seg in item:
                nxt.append(item[seg])
            elif seg is None and isinstance(item, list):
                nxt.extend(item)
            elif isinstance(seg, int) and isinstance(item, list) and -len(item) <= seg < len(item):
                nxt.append(item[seg])
        current = nxt
    return current


class RequestTemplate(BaseModel):
    """One kind of request to a target (a query or an ingest)."""

    model_config = ConfigDict(extra="forbid")

    method: str = Field(default="POST", pattern=r"^(GET|POST|PUT|PATCH|DELETE)$")
    path: str = Field(pattern=r"^/")
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    # JSON path to the source document ids in the answer, e.g. "sources[*].doc_id"
    sources: str | None = None
    # JSON path to a flag that marks a degraded answer (not scored for correctness)
    degraded: str | None = None
    # ingest answered 202: JSON path to the job id, and the path to poll until it is done
    job: str | None = None
    job_poll: str | None = None

    def problems(self, allowed: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
        """Unknown placeholders and unreadable JSON paths, with where they are."""
        out: list[tuple[tuple[str, ...], str]] = []
        for field in ("path", "body", "headers"):
            for name in placeholders_in(getattr(self, field)):
                if name not in allowed:
                    out.append(((field,), f"unknown placeholder {{{name}}}; known here: "
                                          + ", ".join(f"{{{a}}}" for a in allowed)))
        for field in ("sources", "degraded", "job"):
            value = getattr(self, field)
            if value is not None:
                try:
                    parse_json_path(value)
                except JsonPathError as exc:
                    out.append(((field,), str(exc)))
        if self.job_poll is not None:
            for name in placeholders_in(self.job_poll):
                if name != "job_id":
                    out.append((("job_poll",), f"unknown placeholder {{{name}}}; known here: {{job_id}}"))
        return out

    def render(self, values: Mapping[str, Any]) -> tuple[str, str, Any, dict[str, str]]:
        """(method, path, JSON body, headers) for one request."""
        headers = {str(k): str(v) for k, v in _fill(self.headers, values).items()}
        return self.method, str(_fill(self.path, values)), _fill(self.body, values), headers

    def source_ids(self, answer: Any) -> list[str] | None:
        """The answer's source document ids (None: the template does not say where they are)."""
        if self.sources is None:
            return None
        return [str(v) for v in extract(answer, self.sources) if isinstance(v, str | int)]

    def is_degraded(self, answer: Any) -> bool:
        return self.degraded is not None and any(bool(v) for v in extract(answer, self.degraded))
