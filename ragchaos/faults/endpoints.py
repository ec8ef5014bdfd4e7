"""Short names for the HTTP calls a proxy carries: ``POST /v1/embeddings`` is ``embeddings``.

The fault proxy times every HTTP/1.1 call it carries (``faults.server.calls``) and files it
under an endpoint name, so a report can say "the vector store's ``query`` p99" without knowing
which client library made the call. Namers are small objects registered by name and tried in
order; the first that recognises the path wins, and ``generic`` always answers:

- ``openai``: the OpenAI-compatible API (``/v1/embeddings`` → ``embeddings``,
  ``/v1/chat/completions`` → ``chat``, ``/v1/responses`` → ``responses``, ...);
- ``chroma``: Chroma's HTTP API v1/v2 (``.../collections/<id>/query`` → ``query``, ``upsert``,
  ``add``, ``get``, ``delete``, ``count``; collection, tenant and database set-up calls);
- ``generic``: the last path segment that is not an identifier, lower case (``/api/items/42``
  → ``items``), or ``root``.

An endpoint name is ``[a-z0-9_]+`` so it can sit in a stage name (``proxy.vectordb.query``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Protocol

from ragchaos.core.registry import Registry

__all__ = ["NAMERS", "EndpointNamer", "endpoint_of", "register"]


class EndpointNamer(Protocol):
    def name(self, method: str, path: str) -> str | None:
        """The endpoint's short name, or None when this namer does not know the path."""
        ...


NAMERS: Registry[EndpointNamer] = Registry("endpoint namer")


def register(name: str) -> Callable[[type], type]:
    """``@register("openai")`` on a namer class: one instance of it names endpoints."""
    return NAMERS.register(name, entry=lambda cls: cls())


_ID = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,}|[A-Za-z0-9_-]{24,})$",
                 re.IGNORECASE)
_CLEAN = re.compile(r"[^a-z0-9_]+")


def _clean(word: str) -> str:
    return _CLEAN.sub("_", word.lower()).strip("_") or "root"


@register("openai")
class OpenAINamer:
    _PATHS = {
        "embeddings": "embeddings",
        "chat/completions": "chat",
        "completions": "completions",
        "responses": "responses",
        "moderations": "moderations",
        "models": "models",
    }

    def name(self, method: str, path: str) -> str | None:
        m = re.match(r"^(?:/openai)?/v1/(embeddings|chat/completions|completions|responses|moderations|models)"
                     r"(?:/|$)", path)
        return None if m is None else self._PATHS[m.group(1)]


@register("chroma")
class ChromaNamer:
    # the data-plane operations on one collection, the words Chroma's own client uses
    _RECORD_OPS = {"add", "upsert", "update", "query", "get", "delete", "count", "fork", "search"}

    def name(self, method: str, path: str) -> str | None:
        m = re.match(r"^/api/v[12](/.*)?$", path)
        if m is None:
            return None
        parts = [p for p in (m.group(1) or "").split("/") if p]
        if "collections" in parts:
            i = parts.index("collections")
            rest = parts[i + 1:]
            if not rest:
                return "create_collection" if method == "POST" else "list_collections"
            if len(rest) >= 2 and rest[1] in self._RECORD_OPS:
                return rest[1]
            return {"GET": "get_collection", "PUT": "modify_collection",
                    "DELETE": "delete_collection"}.get(method, "collection")
        if "collections_count" in parts:
            return "count_collections"
        if "databases" in parts:
            return "create_database" if method == "POST" else "database"
        if parts[:1] == ["tenants"]:
            return "create_tenant" if method == "POST" else "tenant"
        return _clean(parts[-1]) if parts else "root"


@register("generic")
class GenericNamer:
    def name(self, method: str, path: str) -> str | None:
        words = [p for p in path.split("/") if p and not _ID.match(p)]
        return _clean(words[-1]) if words else "root"


@functools.lru_cache(maxsize=4096)  # a service calls few distinct paths; the proxy names every call
def endpoint_of(method: str, path: str) -> str:
    """The short name of ``METHOD path`` (``path`` without its query string)."""
    for namer in NAMERS.values():
        found = namer.name(method, path)
        if found:
            return found
    return "root"  # pragma: no cover - generic always answers
