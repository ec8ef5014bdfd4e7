"""The built-in proxy's one addition to the Toxiproxy API: the calls each proxy carried.

``GET /ragchaos/calls?after=SEQ&limit=N`` → ``{"records": [...], "next", "last", "lost",
"proxies": {name: counters}, "in_flight": {name: n}}`` (``faults.server.calls``). A reader keeps
``next`` and asks again with ``after=next``; ``lost`` counts records that left the ring before it
asked. The real Toxiproxy answers this path with its plain 404, which is how a client tells that
per-call timing is not available there (``faults.calltiming``).
"""

from __future__ import annotations

import json
import urllib.parse

from ragchaos.faults.server.api import Api
from ragchaos.faults.server.calls import CallLog
from ragchaos.faults.server.http import Request, Response
from ragchaos.faults.server.proxy import ApiError, ProxyCollection

__all__ = ["CALLS_PATH", "add_call_routes"]

CALLS_PATH = "/ragchaos/calls"
MAX_LIMIT = 20_000


def add_call_routes(api: Api, proxies: ProxyCollection, log: CallLog) -> None:
    async def calls(req: Request) -> Response:
        query = urllib.parse.parse_qs(req.query)
        try:
            after = int(query.get("after", ["0"])[-1])
            limit = int(query.get("limit", [str(MAX_LIMIT)])[-1])
        except ValueError:
            raise ApiError("after and limit are whole numbers, e.g. ?after=120&limit=5000", 400) from None
        if after < 0 or not 0 < limit <= MAX_LIMIT:
            raise ApiError(f"after must be >= 0 and limit between 1 and {MAX_LIMIT}", 400)
        page = log.since(after, limit)
        page["in_flight"] = {
            name: sum(c.tap.in_flight for c in p.connections if c.tap is not None)
            for name, p in sorted(proxies.proxies.items())
        }
        body = json.dumps(page, separators=(",", ":")).encode()
        return Response(200, body, [("Content-Type", "application/json")])

    api._route(CALLS_PATH, GET=calls)
