"""OpenAI's error shape, and the exception that carries one to the HTTP layer.

Every error the provider answers is ``{"error": {"message", "type", "param", "code"}}``,
which the SDK turns into ``e.body``, ``e.type``, ``e.code`` and ``e.param``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "bad_request",
    "error_body",
    "insufficient_quota",
    "invalid_api_key",
    "not_found",
    "require_model",
    "server_error",
]

_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)

_SERVER_MESSAGES = {
    500: ("The server had an error while processing your request. Sorry about that!", "server_error"),
    502: ("Bad gateway.", "server_error"),
    503: ("The engine is currently overloaded, please try again later.", "service_unavailable_error"),
    504: ("Gateway timeout.", "server_error"),
    529: ("The server is overloaded, please try again later.", "overloaded_error"),
}


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """An answer in OpenAI's error shape; raised anywhere, rendered once by the app."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body["error"]["message"])
        self.status = status
        self.body = body
        self.headers = headers or {}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, error_body(message, "invalid_request_error", param, code))


def invalid_api_key(key: str | None) -> ApiError:
    if not key:
        return ApiError(401, error_body(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "invalid_request_error"))
    shown = key[:3] + "*" * 3 + key[-4:] if len(key) > 8 else key[:1] + "***"
    return ApiError(401, error_body(
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.", "invalid_request_error", None, "invalid_api_key"))


def insufficient_quota() -> ApiError:
    return ApiError(429, error_body(_QUOTA_MESSAGE, "insufficient_quota", None, "insufficient_quota"))


def not_found(message: str) -> ApiError:
    return ApiError(404, error_body(message, "invalid_request_error"))


def server_error(status: int, headers: dict[str, str] | None = None) -> ApiError:
    """A 5xx (or any other status a fault asks for) with the message OpenAI uses for it."""
    message, type_ = _SERVER_MESSAGES.get(status, (f"Simulated error {status}.", "server_error"))
    if status < 500:
        type_ = "invalid_request_error"
    return ApiError(status, error_body(message, type_), headers)


def require_model(body: Any) -> str:
    """The request body is a JSON object with a non-empty string ``model``: OpenAI's own checks."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if model is None or model == "":
        raise bad_request("you must provide a model parameter", "model")
    if not isinstance(model, str):
        raise bad_request("Invalid type for 'model': expected a string.", "model", "invalid_type")
    return model
