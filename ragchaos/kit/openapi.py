"""The OpenAPI document tells the truth about errors: ``{"error": {"type", "message"}}``.

FastAPI's generated schema documents every validation failure as its own ``HTTPValidationError``
(``{"detail": [...]}``) and no other error status, but both apps answer every error in one JSON
shape (errors.py) with 400, 404, 413, 422 and, for a failing dependency, 502/503. A client
generated from the schema, or a schema fuzzer (tests/security), would otherwise see every error
as a contract violation. ``document_errors`` rewrites the generated document once, lazily.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["ERROR_SCHEMA", "document_errors"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
        }
    },
}
_ERRORS = {
    "400": "the body is not JSON",
    "401": "authentication on (reference app): no key or an unknown key",
    "403": "authentication on: the body names another tenant than the key's",
    "413": "the body or the document is too large",
    "422": "the body is JSON but not a valid request (the message names the field)",
    "429": "the tenant is over its quota (reference app)",
    "502": "a dependency failed and nothing absorbed it",
    "503": "overloaded, or no fallback left (reference app)",
}
# one Server-Sent Event: its data is a JSON delta/done/error object, or the final "[DONE]"
_SSE_EVENT = {"type": "object", "required": ["data"], "properties": {"data": {"type": "string"}}}
_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REF}}}


def document_errors(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorResponse"] = ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for path, item in doc.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                for status, description in _ERRORS.items():
                    responses[status] = _error(description)
                if "{" in path:
                    responses["404"] = _error("no such resource")
                if path.endswith("/query"):  # "stream": true answers Server-Sent Events
                    for ok in ("200",):
                        if ok in responses:
                            responses[ok].setdefault("content", {})["text/event-stream"] = {"schema": _SSE_EVENT}
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its schema
