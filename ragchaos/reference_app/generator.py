"""The chat path: one guarded completion from the pooled client, plain or streamed.

A streamed answer is guarded up to the response headers (that is when a retry is still
possible, as in the SDK); the body then streams under the request deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ragchaos.kit.prompt import CHAT_MODEL, MAX_ANSWER_TOKENS, TEMPERATURE, estimate_tokens
from ragchaos.measure.accounting import count_chat
from ragchaos.measure.metrics import AppMetrics
from ragchaos.reference_app.clients import Clients
from ragchaos.reference_app.deadline import Deadline
from ragchaos.reference_app.resilience import DependencyGuard

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["Generator"]


def _tokens(messages: Sequence[ChatCompletionMessageParam]) -> int:
    texts = [m.get("content") for m in messages]  # the kit's prompt only writes text content
    return sum(estimate_tokens(t) for t in texts if isinstance(t, str)) + MAX_ANSWER_TOKENS


class Generator:
    def __init__(self, clients: Clients, guard: DependencyGuard, metrics: AppMetrics) -> None:
        self.clients = clients
        self.guard = guard
        self.metrics = metrics

    async def complete(self, messages: list[ChatCompletionMessageParam], deadline: Deadline) -> str:
        async def attempt(timeout: float) -> str:
            async with self.clients.openai() as client:
                raw = await client.chat.completions.with_raw_response.create(
                    model=CHAT_MODEL, messages=messages, temperature=TEMPERATURE, max_tokens=MAX_ANSWER_TOKENS,
                    timeout=timeout,
                )
            self.guard.observe(raw.headers)
            resp = raw.parse()
            count_chat(self.metrics, resp.usage)
            return resp.choices[0].message.content or ""

        return await self.guard.call(attempt, deadline=deadline, tokens=_tokens(messages))

    async def stream(self, messages: list[ChatCompletionMessageParam], deadline: Deadline) -> AsyncIterator[str]:
        """Open the stream under the guard, then yield content deltas within the deadline."""

        async def attempt(timeout: float) -> tuple[Any, Any]:
            client_cm = self.clients.openai()
            client = await client_cm.__aenter__()
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model=CHAT_MODEL, messages=messages, temperature=TEMPERATURE, max_tokens=MAX_ANSWER_TOKENS,
                    stream=True, stream_options={"include_usage": True}, timeout=timeout,
                )
            except BaseException:
                await client_cm.__aexit__(None, None, None)
                raise
            self.guard.observe(raw.headers)
            return raw.parse(), client_cm

        stream, client_cm = await self.guard.call(attempt, deadline=deadline, tokens=_tokens(messages))
        return self._deltas(stream, client_cm, deadline)

    async def _deltas(self, stream: Any, client_cm: Any, deadline: Deadline) -> AsyncIterator[str]:
        try:
            remaining = deadline.remaining()
            async with asyncio.timeout(None if remaining == float("inf") else remaining):
                async for chunk in stream:
                    if chunk.usage is not None:
                        count_chat(self.metrics, chunk.usage)
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield chunk.choices[0].delta.content
        finally:
            await client_cm.__aexit__(None, None, None)
