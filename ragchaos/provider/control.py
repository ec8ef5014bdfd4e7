"""The control API: ``/_control/faults`` and ``/_stats``. Handlers decode, validate, delegate.

Faults are validated whole before anything changes: a PUT with one bad fault applies none.
A validation error is a 400 in OpenAI's error shape that names the fault and the field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from pydantic import ValidationError

from ragchaos.provider.errors import bad_request, not_found
from ragchaos.provider.faults import FaultSet, FaultSpec
from ragchaos.provider.http import Receive, Reply, Request, json_reply, parse_json
from ragchaos.provider.stats import Stats

__all__ = ["ControlApi"]

Handler = Callable[[Request, Receive, Any], Awaitable[Reply]]


class ControlApi:
    def __init__(self, faults: FaultSet, stats: Stats,
                 reset_limits: Callable[[str | None], list[str]] | None = None,
                 enforce_limits: Callable[[bool | None], bool] | None = None,
                 input_limit: Callable[[int | None], int] | None = None) -> None:
        self.input_limit = input_limit
        self.faults = faults
        self.stats = stats
        self.reset_limits = reset_limits
        self.enforce_limits = enforce_limits

    def routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/_control/faults"): self._faults_list,
            ("PUT", "/_control/faults"): self._faults_replace,
            ("POST", "/_control/faults"): self._faults_add,
            ("DELETE", "/_control/faults"): self._faults_clear,
            ("POST", "/_control/limits/reset"): self._limits_reset,
            ("GET", "/_control/limits"): self._limits_state,
            ("PUT", "/_control/limits"): self._limits_set,
            ("GET", "/_control/input-limit"): self._input_limit_state,
            ("PUT", "/_control/input-limit"): self._input_limit_set,
            ("GET", "/_stats"): self._stats,
            ("POST", "/_stats/reset"): self._stats_reset,
            ("GET", "/_stats/requests"): self._stats_requests,
        }

    def prefix_routes(self) -> list[tuple[str, str, Handler]]:
        return [("DELETE", "/_control/faults/", self._faults_delete)]

    @staticmethod
    def _spec(raw: Any, where: str) -> FaultSpec:
        if not isinstance(raw, dict):
            raise bad_request(f"{where}: a fault must be a JSON object.")
        try:
            return FaultSpec.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or where}: {e['msg']}" for e in exc.errors())
            raise bad_request(f"{where}: {problems}") from None

    async def _faults_list(self, req: Request, receive: Receive, call: Any) -> Reply:
        return json_reply({"faults": self.faults.listing()})

    async def _faults_replace(self, req: Request, receive: Receive, call: Any) -> Reply:
        body = parse_json(req.body)
        raw = body.get("faults") if isinstance(body, dict) else body
        if not isinstance(raw, list):
            raise bad_request('PUT /_control/faults wants {"faults": [...]}.')
        specs = [self._spec(item, f"faults[{i}]") for i, item in enumerate(raw)]  # all valid, or none applied
        self.faults.clear()
        ids = [self.faults.add(spec) for spec in specs]
        return json_reply({"ids": ids, "faults": self.faults.listing()})

    async def _faults_add(self, req: Request, receive: Receive, call: Any) -> Reply:
        spec = self._spec(parse_json(req.body), "fault")
        return json_reply({"id": self.faults.add(spec)})

    async def _faults_clear(self, req: Request, receive: Receive, call: Any) -> Reply:
        n = len(self.faults.listing())
        self.faults.clear()
        return json_reply({"deleted": n})

    async def _faults_delete(self, req: Request, receive: Receive, call: Any) -> Reply:
        fault_id = req.path.removeprefix("/_control/faults/")
        if not self.faults.remove(fault_id):
            raise not_found(f"No fault with id {fault_id!r}.")
        return json_reply({"deleted": fault_id})

    async def _limits_reset(self, req: Request, receive: Receive, call: Any) -> Reply:
        """``{"key": K}`` refills K's buckets (both endpoint families); no body or ``{}``: every key."""
        body = parse_json(req.body) if req.body.strip() else {}
        if not isinstance(body, dict):
            raise bad_request('POST /_control/limits/reset wants {"key": "..."} or no body.')
        key = body.get("key")
        if key is not None and not isinstance(key, str):
            raise bad_request("key must be a string.", "key")
        if self.reset_limits is None:
            raise not_found("This provider has no rate limits to reset.")
        return json_reply({"reset": self.reset_limits(key)})

    async def _limits_state(self, req: Request, receive: Receive, call: Any) -> Reply:
        if self.enforce_limits is None:
            raise not_found("This provider has no rate limits.")
        return json_reply({"enforced": self.enforce_limits(None)})

    async def _limits_set(self, req: Request, receive: Receive, call: Any) -> Reply:
        """``{"enforced": false}`` lets every request through the rate limiter (headers still sent),
        e.g. while a harness loads its corpus; ``{"enforced": true}`` turns it back on."""
        body = parse_json(req.body)
        if not isinstance(body, dict) or not isinstance(body.get("enforced"), bool):
            raise bad_request('PUT /_control/limits wants {"enforced": true|false}.', "enforced")
        if self.enforce_limits is None:
            raise not_found("This provider has no rate limits.")
        return json_reply({"enforced": self.enforce_limits(body["enforced"])})

    async def _input_limit_state(self, req: Request, receive: Receive, call: Any) -> Reply:
        if self.input_limit is None:
            raise not_found("This provider has no embeddings input limit.")
        return json_reply({"max_input_tokens": self.input_limit(None)})

    async def _input_limit_set(self, req: Request, receive: Receive, call: Any) -> Reply:
        """``{"max_input_tokens": N}``: the embedding model's per-input limit from now on (8192 for
        the text-embedding-3 models); raising it is how a harness removes an oversized-input cause."""
        body = parse_json(req.body)
        n = body.get("max_input_tokens") if isinstance(body, dict) else None
        if type(n) is not int or not 1 <= n <= 10_000_000:
            raise bad_request('PUT /_control/input-limit wants {"max_input_tokens": 1..10000000}.', "max_input_tokens")
        if self.input_limit is None:
            raise not_found("This provider has no embeddings input limit.")
        return json_reply({"max_input_tokens": self.input_limit(n)})

    async def _stats(self, req: Request, receive: Receive, call: Any) -> Reply:
        return json_reply(self.stats.to_json())

    async def _stats_reset(self, req: Request, receive: Receive, call: Any) -> Reply:
        self.stats.reset()
        return json_reply({"since": self.stats.since})

    async def _stats_requests(self, req: Request, receive: Receive, call: Any) -> Reply:
        query = parse_qs(req.query)
        try:
            limit = int(query.get("limit", ["1000"])[0])
        except ValueError:
            raise bad_request("limit must be an integer.", "limit") from None
        key = query.get("key", [None])[0]
        records = [r for r in self.stats.log if key is None or r["key"] == key]
        return json_reply({"requests": records[-limit:] if limit > 0 else []})

