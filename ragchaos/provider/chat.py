"""``POST /v1/chat/completions``: validate, answer from the prompt's context, render.

Output length: ``max_completion_tokens`` or ``max_tokens`` if given, else the config's
``default_max_tokens``; an answer longer than that is cut (``finish_reason: "length"``).
Token counts use ``provider.text.count_tokens``; a prompt costs its messages' tokens plus 3 per
message and 3 for the reply, as OpenAI counts. A stream sends one content chunk per word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ragchaos.provider.config import ChatConfig
from ragchaos.provider.errors import bad_request, require_model
from ragchaos.provider.grounding import answer, has_sources, question_of
from ragchaos.provider.ranges import check_ranges
from ragchaos.provider.text import count_tokens

__all__ = [
    "ChatRequest",
    "Completion",
    "chunk",
    "complete",
    "completion_body",
    "parse_request",
    "pieces",
    "usage",
]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_PIECE = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    messages: list[tuple[str, str]]
    max_tokens: int
    stream: bool
    include_usage: bool
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: str
    completion_tokens: int


def _text(content: Any, i: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise bad_request(f"Invalid content part at 'messages[{i}].content[{j}]': expected an object "
                                  "with a 'type'.", f"messages[{i}].content[{j}]", "invalid_type")
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise bad_request(f"Invalid type for 'messages[{i}].content[{j}].text': expected a string.",
                                      f"messages[{i}].content[{j}].text", "invalid_type")
                parts.append(part["text"])
        return "\n".join(parts)
    raise bad_request(f"Invalid type for 'messages[{i}].content': expected a string or an array of content "
                      "parts.", f"messages[{i}].content", "invalid_type")


def _positive_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise bad_request(f"Invalid value for '{name}': expected a positive integer.", name, "invalid_value")
    return value


def parse_request(body: Any, cfg: ChatConfig) -> ChatRequest:
    model = require_model(body)
    raw = body.get("messages")
    if raw is None:
        raise bad_request("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(raw, list) or not raw:
        raise bad_request("Invalid value for 'messages': expected a non-empty array of messages.", "messages",
                          "invalid_value")
    messages: list[tuple[str, str]] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise bad_request(f"Invalid type for 'messages[{i}]': expected an object.", f"messages[{i}]",
                              "invalid_type")
        role = m.get("role")
        if not isinstance(role, str) or role not in _ROLES:  # a list or object is not hashable
            raise bad_request(f"Invalid value for 'messages[{i}].role': {role!r}.", f"messages[{i}].role",
                              "invalid_value")
        messages.append((role, _text(m.get("content"), i)))
    check_ranges(body)
    n = body.get("n")
    if n is not None and n != 1:
        raise bad_request("Invalid value for 'n': this provider supports only n=1.", "n", "invalid_value")
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise bad_request("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("Invalid type for 'stream_options': expected an object.", "stream_options", "invalid_type")
    if options is not None and not stream:
        raise bad_request("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                          "stream_options", "invalid_value")
    include_usage = bool(options and options.get("include_usage"))
    prompt_tokens = sum(count_tokens(text) + 3 for _, text in messages) + 3
    return ChatRequest(model, messages, max_tokens or cfg.default_max_tokens, stream, include_usage, prompt_tokens)


def complete(req: ChatRequest, cfg: ChatConfig) -> Completion:
    """The deterministic, grounded answer, cut to ``max_tokens``."""
    users = [i for i, (role, _) in enumerate(req.messages) if role == "user"]
    last = users[-1] if users else len(req.messages) - 1
    own_context, question = question_of(req.messages[last][1])
    # instructions (system/developer) are not evidence unless they carry tagged passages
    context = "\n\n".join([text for i, (role, text) in enumerate(req.messages)
                            if i != last and (role not in ("system", "developer") or has_sources(text))]
                           + [own_context])
    text = answer(question, context, cfg.max_sentences)
    limit = req.max_tokens * 4  # count_tokens is ceil(chars / 4)
    finish = "stop"
    if len(text) > limit:
        text, finish = text[:limit].rstrip(), "length"
    return Completion(text, finish, count_tokens(text))


def pieces(text: str) -> list[str]:
    """The stream's content deltas: one per word, with the whitespace before it."""
    return _PIECE.findall(text)


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def completion_body(req: ChatRequest, c: Completion, completion_id: str, created: int) -> dict[str, Any]:
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": req.model,
        "choices": [{"index": 0,
                     "message": {"role": "assistant", "content": c.text, "refusal": None, "annotations": []},
                     "logprobs": None, "finish_reason": c.finish_reason}],
        "usage": usage(req.prompt_tokens, c.completion_tokens),
        "service_tier": "default", "system_fingerprint": "fp_ragchaos",
    }


def chunk(req: ChatRequest, completion_id: str, created: int, delta: dict[str, Any] | None,
          finish_reason: str | None = None, usage_: dict[str, Any] | None = None) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``delta=None`` makes the usage-only chunk (empty choices)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None,
                                         "finish_reason": finish_reason}]
    return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": req.model,
            "system_fingerprint": "fp_ragchaos", "choices": choices, "usage": usage_}
