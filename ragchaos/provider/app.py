"""The provider as an ASGI app: ``create_app(config)`` wires the parts together.

Every call to an API endpoint goes through the same steps, in the order a real provider
takes them: authenticate, validate (400), faults (which may hold, fail or alter the call), the
key's quota, the rate limit (429), a service slot and the modelled service time, the answer.
Stats are counted once the answer is sent, so a stream's service time includes the stream.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ragchaos.provider import chat, embeddings
from ragchaos.provider.config import ProviderConfig
from ragchaos.provider.control import ControlApi
from ragchaos.provider.errors import (
    ApiError,
    insufficient_quota,
    invalid_api_key,
    not_found,
    server_error,
)
from ragchaos.provider.faults import Effect, FaultSet
from ragchaos.provider.http import (
    Receive,
    Reply,
    Request,
    Send,
    StreamReply,
    error_reply,
    json_reply,
    parse_json,
    read_request,
    send_reply,
)
from ragchaos.provider.latency import LatencyModel
from ragchaos.provider.ratelimit import RateLimiter
from ragchaos.provider.stats import Stats
from ragchaos.provider.text import count_tokens

__all__ = [
    "Call",
    "ProviderApp",
    "create_app",
]

log = logging.getLogger("provider")

MODELS = ("text-embedding-3-small", "text-embedding-3-large", "gpt-4o-mini", "gpt-4o")
# nginx's status for "the client closed the connection before the answer": counted, never sent
CLIENT_CLOSED = 499
_FAMILY_PRICE = {"embeddings": "text-embedding-3-small", "chat": "gpt-4o-mini"}

Handler = Callable[[Request, Receive, "Call"], Awaitable["Reply | StreamReply | None"]]


@dataclass(slots=True)
class Call:
    """What one request did, filled in along the way and counted at the end."""

    key: str | None = None
    endpoint: str | None = None
    model: str = ""
    inputs: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    faulted: bool = False
    served: bool = False


class ProviderApp:
    def __init__(self, config: ProviderConfig, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.config = config
        self.keys = config.all_keys()
        self.clock = clock
        self.wall = wall
        self.sleep = sleep
        self.latency = LatencyModel(config.latency)
        self.faults = FaultSet(seed=config.latency.seed + 1, clock=clock)
        self.stats = Stats(config.request_log_size, wall)
        self._limiters: dict[tuple[str, str], RateLimiter] = {}
        # off only while a harness loads its corpus (PUT /_control/limits): setup is not the test
        self.limits_enforced = True
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/v1/chat/completions"): self._chat,
            ("GET", "/v1/models"): self._models,
            ("GET", "/healthz"): self._health,
        }
        self._prefix_routes: list[tuple[str, str, Handler]] = [("GET", "/v1/models/", self._model)]
        control = ControlApi(self.faults, self.stats, self.reset_limits, self.enforce_limits, self.input_limit)
        self._routes.update(control.routes())
        self._prefix_routes.extend(control.prefix_routes())

    # ---- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self._loop = asyncio.get_running_loop()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.faults.clear()  # let held requests go
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    def release_held(self) -> None:
        """Drop every fault (so hung requests are answered); safe to call from a signal handler."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.faults.clear)

    async def _http(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        arrived = self.clock()
        arrived_wall = self.wall()
        request_id = f"req_{next(self._ids):012x}"
        call = Call()
        req: Request | None = None
        try:
            req = await read_request(scope, receive)
            handler = self._route(req)
            reply = await handler(req, receive, call)
        except ApiError as err:
            if err.status in (400, 404, 405):  # a client bug: say what was wrong where someone will look
                log.warning("%s %s -> %d: %s", scope.get("method"), scope.get("path"), err.status, err)
            reply = error_reply(err)
        except Exception:  # a bug must still answer in OpenAI's shape, and be logged
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            reply = error_reply(server_error(500))
        if reply is None:  # the client went away while a hang fault held the request
            if call.key is not None and call.endpoint is not None and req is not None:
                self._count(call, req, Reply(CLIENT_CLOSED, b""), arrived, arrived_wall, request_id)
            return
        reply.headers["x-request-id"] = request_id
        if call.endpoint is not None:
            reply.headers["openai-version"] = "2020-10-01"
            reply.headers["openai-organization"] = "org-ragchaos"
            reply.headers["openai-processing-ms"] = str(int((self.clock() - arrived) * 1000))
        await send_reply(send, reply, receive)
        if call.key is not None and call.endpoint is not None and req is not None:
            self._count(call, req, reply, arrived, arrived_wall, request_id)

    def _route(self, req: Request) -> Handler:
        handler = self._routes.get((req.method, req.path))
        if handler is not None:
            return handler
        for method, prefix, h in self._prefix_routes:
            if req.method == method and req.path.startswith(prefix) and len(req.path) > len(prefix):
                return h
        known = {p for _, p in self._routes}
        if req.path in known:
            raise ApiError(405, {"error": {"message": f"Method {req.method} not allowed on {req.path}.",
                                           "type": "invalid_request_error", "param": None, "code": None}})
        raise not_found(f"Invalid URL ({req.method} {req.path})")

    def _count(self, call: Call, req: Request, reply: Reply | StreamReply, arrived: float, arrived_wall: float,
               request_id: str) -> None:
        assert call.key is not None and call.endpoint is not None
        try:
            retry_count = int(req.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            retry_count = 0
        s = self.stats.record(call.key, call.endpoint, status=reply.status, retry_count=retry_count,
                              faulted=call.faulted, service_us=(self.clock() - arrived) * 1e6, arrived=arrived_wall,
                              request_id=request_id, correlation=req.headers.get("x-harness-request-id"))
        if call.served:
            s.inputs += call.inputs
            s.tokens_in += call.tokens_in
            s.tokens_out += call.tokens_out
            prices = self.config.prices
            price = prices.get(call.model) or prices.get(_FAMILY_PRICE[call.endpoint])
            if price is not None:
                s.cost_usd += (call.tokens_in * price.input_per_1m + call.tokens_out * price.output_per_1m) / 1e6

    # ---- the common admission path ---------------------------------------------------------

    def _authenticate(self, req: Request) -> str:
        auth = req.headers.get("authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if key not in self.keys:
            raise invalid_api_key(key)
        return key

    def reset_limits(self, key: str | None = None) -> list[str]:
        """Refill the rate-limit buckets of ``key`` (every key if None); returns the keys reset."""
        if key is not None and key not in self.keys:
            raise not_found(f"No API key {key!r}.")
        reset = set()
        for (k, _endpoint), limiter in self._limiters.items():
            if key is None or k == key:
                limiter.reset()
                reset.add(k)
        return sorted(reset if key is None else {key})

    def enforce_limits(self, enforced: bool | None = None) -> bool:
        """Turn rate-limit enforcement on or off (None: only read it); returns the state."""
        if enforced is not None:
            self.limits_enforced = enforced
        return self.limits_enforced

    def input_limit(self, max_input_tokens: int | None = None) -> int:
        """Set the embeddings per-input token limit (None: only read it); returns it."""
        if max_input_tokens is not None:
            emb = self.config.embeddings.model_copy(update={"max_input_tokens": max_input_tokens})
            self.config = self.config.model_copy(update={"embeddings": emb})
        return self.config.embeddings.max_input_tokens

    def _limiter(self, key: str, endpoint: str) -> RateLimiter:
        limiter = self._limiters.get((key, endpoint))
        if limiter is None:
            default = self.config.embeddings_limits if endpoint == "embeddings" else self.config.chat_limits
            own = getattr(self.keys[key], endpoint)
            rpm = own.rpm or default.rpm or 500
            tpm = own.tpm or default.tpm or 200_000
            limiter = self._limiters[(key, endpoint)] = RateLimiter(rpm, tpm, self.clock, self.config.limits_window_s)
        return limiter

    async def _admit(self, call: Call, receive: Receive, tokens: int) -> tuple[Effect, dict[str, str]] | None:
        """Faults, quota and rate limit; returns the effect and rate-limit headers, or None if the client left.

        Raises ApiError for an answer that replaces the normal one.
        """
        assert call.key is not None and call.endpoint is not None
        effect = self.faults.effect(call.endpoint, call.key, call.model)
        call.faulted = bool(effect.injected)
        if effect.hanging and not await self._hold(effect, receive):
            return None
        limiter = self._limiter(call.key, call.endpoint)
        if effect.error is not None:
            err = effect.error
            raise ApiError(err.status, err.body, {**limiter.peek_headers(), **err.headers})
        if self.keys[call.key].insufficient_quota:
            raise insufficient_quota()
        if not self.limits_enforced:
            return effect, limiter.peek_headers()
        decision = limiter.admit(tokens, call.model)
        if decision.refusal is not None:
            raise decision.refusal
        return effect, decision.headers

    async def _hold(self, effect: Effect, receive: Receive) -> bool:
        """Wait out a hang fault; False if the client disconnected meanwhile."""
        assert effect.hang_release is not None
        released = asyncio.ensure_future(effect.hang_release.wait())
        gone = asyncio.ensure_future(receive())
        try:
            done, _ = await asyncio.wait({released, gone}, timeout=effect.hang_s,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            gone.cancel()
        return not (gone in done and gone.result().get("type") == "http.disconnect")

    # ---- API endpoints ---------------------------------------------------------------------

    async def _embeddings(self, req: Request, receive: Receive, call: Call) -> Reply | None:
        call.key = self._authenticate(req)
        call.endpoint = "embeddings"
        parsed = embeddings.parse_request(parse_json(req.body), self.config.embeddings)
        call.model = parsed.model
        admitted = await self._admit(call, receive, parsed.total_tokens)
        if admitted is None:
            return None
        effect, headers = admitted
        async with self.latency.slot(call.key):
            scale = self.latency.scale(effect.slow_factor)
            if scale:
                await self.sleep(self.latency.embeddings_s(len(parsed.inputs), parsed.total_tokens) * scale)
            reply = json_reply(embeddings.render(parsed), 200, headers)
        call.served = True
        call.inputs = len(parsed.inputs)
        call.tokens_in = parsed.total_tokens
        return self._alter(reply, effect)

    async def _chat(self, req: Request, receive: Receive, call: Call) -> Reply | StreamReply | None:
        call.key = self._authenticate(req)
        call.endpoint = "chat"
        parsed = chat.parse_request(parse_json(req.body), self.config.chat)
        call.model = parsed.model
        # like OpenAI, admission counts the prompt plus the most the answer may use
        admitted = await self._admit(call, receive, parsed.prompt_tokens + parsed.max_tokens)
        if admitted is None:
            return None
        effect, headers = admitted
        completion = chat.complete(parsed, self.config.chat)
        call.served = True
        call.inputs = 1
        call.tokens_in = parsed.prompt_tokens
        call.tokens_out = completion.completion_tokens
        completion_id = f"chatcmpl-{next(self._ids):024x}"
        created = int(self.wall())
        if parsed.stream:
            events = self._stream(call.key, parsed, completion, completion_id, created, effect)
            return StreamReply(events, headers, cut_after=effect.cut_after)
        async with self.latency.slot(call.key):
            scale = self.latency.scale(effect.slow_factor)
            if scale:
                await self.sleep((self.latency.ttft_s() + self.latency.per_token_s(completion.completion_tokens))
                                 * scale)
        return self._alter(json_reply(chat.completion_body(parsed, completion, completion_id, created), 200, headers),
                           effect)

    async def _stream(self, key: str, req: chat.ChatRequest, c: chat.Completion, completion_id: str, created: int,
                      effect: Effect) -> AsyncGenerator[bytes, None]:
        def event(obj: dict[str, Any]) -> bytes:
            return b"data: " + orjson.dumps(obj) + b"\n\n"

        async with self.latency.slot(key):
            scale = self.latency.scale(effect.slow_factor)
            if scale:
                await self.sleep(self.latency.ttft_s() * scale)
            yield event(chat.chunk(req, completion_id, created, {"role": "assistant", "content": ""}))
            for i, piece in enumerate(chat.pieces(c.text)):
                if scale:
                    await self.sleep(self.latency.per_token_s(count_tokens(piece)) * scale)
                if effect.malformed and i == 0:
                    yield b'data: {"id": "' + completion_id.encode() + b'", "choices": [{"delta": \n\n'
                    continue
                yield event(chat.chunk(req, completion_id, created, {"content": piece}))
            yield event(chat.chunk(req, completion_id, created, {}, c.finish_reason))
            if req.include_usage:
                yield event(chat.chunk(req, completion_id, created, None, None,
                                       chat.usage(req.prompt_tokens, c.completion_tokens)))
            yield b"data: [DONE]\n\n"

    @staticmethod
    def _alter(reply: Reply, effect: Effect) -> Reply:
        """Apply the faults that spoil an answer rather than replace it."""
        if effect.malformed:
            reply.body = reply.body[: max(1, len(reply.body) // 3)]  # valid JSON cut short: no longer JSON
        if effect.cut_after is not None:
            reply.cut = True
        return reply

    async def _models(self, req: Request, receive: Receive, call: Call) -> Reply:
        self._authenticate(req)
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "ragchaos"} for m in MODELS]
        return json_reply({"object": "list", "data": data})

    async def _model(self, req: Request, receive: Receive, call: Call) -> Reply:
        self._authenticate(req)
        model = req.path.removeprefix("/v1/models/")
        return json_reply({"id": model, "object": "model", "created": 1700000000, "owned_by": "ragchaos"})

    async def _health(self, req: Request, receive: Receive, call: Call) -> Reply:
        return json_reply({"status": "ok"})


def create_app(config: ProviderConfig | None = None, **kwargs: Any) -> ProviderApp:
    """The provider's ASGI app; ``clock``, ``wall`` and ``sleep`` may be injected for tests."""
    return ProviderApp(config or ProviderConfig(), **kwargs)
