"""Reading the calls a fault proxy carried: ``CallReader`` pages through ``GET /ragchaos/calls``.

Only the built-in proxy times calls (``faults.server.calls``). The real Toxiproxy cannot: it
has no per-request view of the bytes it forwards (its ``-proxy-metrics`` counts bytes per
connection, and only when a connection closes). Against it ``available()`` is False and a run
reports the proxy stages as not measured, saying why, rather than as zero.

    reader = CallReader("http://127.0.0.1:8474")
    if reader.available():
        records = reader.fetch()          # everything since the last fetch, oldest first

Each reader has its own cursor, so a run and a live view can read the same proxy.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["NOT_AVAILABLE", "CallReader"]

# what a report says when the proxy cannot time calls
NOT_AVAILABLE = ("not measured: the real Toxiproxy has no per-call timing "
                 "(the built-in proxy times every call; run without TOXIPROXY_URL to use it)")


class CallReader:
    def __init__(self, base_url: str, timeout: float = 5.0, page: int = 20_000) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page = page
        self.after = 0
        self.lost = 0  # records that left the proxy's ring before we read them
        self.counters: dict[str, dict[str, int]] = {}
        self.in_flight: dict[str, int] = {}
        self._available: bool | None = None

    def available(self) -> bool:
        """Whether this proxy times calls (the built-in one does, a real Toxiproxy does not)."""
        if self._available is None:
            try:
                self._get(0, 1)
                self._available = True
            except urllib.error.HTTPError as exc:
                if exc.code != 404:
                    raise
                self._available = False
        return self._available

    def skip_to_now(self) -> None:
        """Forget what was carried so far (e.g. seeding): the next fetch starts from here."""
        page = self._get(0, 1)
        self.after = int(page["last"])
        self._keep(page)

    def fetch(self) -> list[dict[str, Any]]:
        """Every record since the last fetch (several pages if need be)."""
        out: list[dict[str, Any]] = []
        while True:
            page = self._get(self.after, self.page)
            self.lost += int(page.get("lost", 0))
            records = page.get("records") or []
            out += records
            self.after = int(page["next"])
            self._keep(page)
            if not records or self.after >= int(page["last"]):
                return out

    def _keep(self, page: dict[str, Any]) -> None:
        self.counters = page.get("proxies") or {}
        self.in_flight = page.get("in_flight") or {}

    def _get(self, after: int, limit: int) -> dict[str, Any]:
        url = f"{self.base_url}/ragchaos/calls?after={after}&limit={limit}"
        req = urllib.request.Request(url, headers={"User-Agent": "ragchaos-calls/1"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read())
