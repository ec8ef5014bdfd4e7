"""``POST /v1/embeddings``: validate the request, build the vectors, render the answer.

Accepts what the real endpoint accepts: ``input`` as a string, a list of strings, a list of
token ids or a list of token-id lists; ``encoding_format`` float or base64 (the SDK asks for
base64 unless told otherwise); ``dimensions``. Everything else that is wrong is a 400 in
OpenAI's shape that names the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ragchaos.provider.config import EmbeddingsConfig
from ragchaos.provider.errors import bad_request, require_model
from ragchaos.provider.text import count_tokens
from ragchaos.provider.vectors import embed, encode_base64

__all__ = ["EmbeddingsRequest", "parse_request", "render"]

Item = str | list[int]


@dataclass(frozen=True, slots=True)
class EmbeddingsRequest:
    model: str
    inputs: list[Item]
    tokens: list[int]
    encoding_format: str
    dimensions: int

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens)


def _is_token_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(type(t) is int and t >= 0 for t in value)


def _inputs(raw: Any, cfg: EmbeddingsConfig) -> list[Item]:
    if raw is None:
        raise bad_request("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    if isinstance(raw, str):
        items: list[Item] = [raw]
    elif isinstance(raw, list):
        if not raw:
            raise bad_request("'input' cannot be an empty list.", "input", "invalid_value")
        if all(type(t) is int for t in raw):  # one input given as token ids
            if not _is_token_list(raw):
                raise bad_request("'input' token ids must be non-negative integers.", "input", "invalid_value")
            items = [raw]
        else:
            for i, item in enumerate(raw):
                if not isinstance(item, str) and not _is_token_list(item):
                    raise bad_request(f"Invalid type for 'input[{i}]': expected a string or a list of "
                                      f"token ids, but got {type(item).__name__}.", f"input[{i}]", "invalid_type")
            items = list(raw)
    else:
        raise bad_request(f"Invalid type for 'input': expected a string or an array, but got "
                          f"{type(raw).__name__}.", "input", "invalid_type")
    if len(items) > cfg.max_inputs:
        raise bad_request(f"'input' is too long: {len(items)} items, the maximum is {cfg.max_inputs}.",
                          "input", "invalid_value")
    for i, item in enumerate(items):
        if isinstance(item, str) and not item.strip():
            raise bad_request(f"'input[{i}]' must be a non-empty string.", "input", "invalid_value")
    return items


def parse_request(body: Any, cfg: EmbeddingsConfig) -> EmbeddingsRequest:
    model = require_model(body)
    items = _inputs(body.get("input"), cfg)
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise bad_request(f"Invalid value for 'encoding_format': {fmt!r}. Supported values are: 'float' and "
                          "'base64'.", "encoding_format", "invalid_value")
    dims = body.get("dimensions")
    if dims is None:
        dims = cfg.default_dimensions
    elif type(dims) is not int or not 1 <= dims <= 3072:
        raise bad_request("Invalid value for 'dimensions': expected an integer from 1 to 3072.",
                          "dimensions", "invalid_value")
    tokens = [count_tokens(i) if isinstance(i, str) else len(i) for i in items]
    for n in tokens:
        if n > cfg.max_input_tokens:
            # OpenAI's own words for an input over the model's limit (8192 for text-embedding-3-*)
            raise bad_request(f"This model's maximum context length is {cfg.max_input_tokens} tokens, however you "
                              f"requested {n} tokens ({n} in your prompt; 0 for the completion). Please reduce your "
                              "prompt; or completion length.")
    total = sum(tokens)
    if total > cfg.max_request_tokens:
        raise bad_request(f"Requested {total} tokens, max {cfg.max_request_tokens} tokens per request", "input",
                          "max_tokens_per_request")
    return EmbeddingsRequest(model, items, tokens, fmt, dims)


def render(req: EmbeddingsRequest) -> dict[str, Any]:
    data = []
    for index, item in enumerate(req.inputs):
        vec = embed(item, req.dimensions)
        value: Any = encode_base64(vec) if req.encoding_format == "base64" else vec.tolist()
        data.append({"object": "embedding", "index": index, "embedding": value})
    total = req.total_tokens
    return {"object": "list", "data": data, "model": req.model,
            "usage": {"prompt_tokens": total, "total_tokens": total}}
