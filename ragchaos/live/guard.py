"""Who may talk to the live view: the page itself, from loopback, and nobody else.

The control endpoints inject faults and start load, so a request from any other web page must
fail even though the browser that sends it runs on the same machine:

- ``Host`` must be ``127.0.0.1:PORT`` or ``localhost:PORT`` on every request (a DNS-rebinding
  page reaches 127.0.0.1 under its own name, and says so in ``Host``);
- a control request (anything but GET/HEAD) must be JSON (``Content-Type: application/json``)
  and carry ``X-Ragchaos-Live: 1``. Neither is allowed in a "simple" cross-origin request, so a
  browser preflights it, and the view never answers a preflight with CORS headers: the request
  itself is never sent. A form POST or a ``no-cors`` fetch (which a browser *does* send) is
  refused here before it does anything;
- an ``Origin`` (or ``Sec-Fetch-Site``) that is present must be the page's own: another port
  on 127.0.0.1 is the same *site* but not the same origin, and is refused.

``check(method, headers)`` is pure; it returns ``None`` or ``(status, message)``.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CONTROL_HEADER", "check"]

CONTROL_HEADER = "X-Ragchaos-Live"
_SAFE = ("GET", "HEAD")


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lname = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lname), None)
    return value


def check(method: str, headers: Mapping[str, str], *, hosts: tuple[str, ...],
          origins: tuple[str, ...]) -> tuple[int, str] | None:
    host = (_get(headers, "Host") or "").lower()
    if host not in hosts:
        return 403, f"Host {host or '(none)'!r} refused: the live view answers only as {' or '.join(hosts)}"
    if method.upper() in _SAFE:
        return None
    origin = _get(headers, "Origin")
    if origin is not None and origin.lower() not in origins:
        return 403, f"Origin {origin!r} refused: controls accept requests from the live page only"
    site = _get(headers, "Sec-Fetch-Site")
    if site is not None and site.lower() not in ("same-origin", "none"):
        return 403, f"Sec-Fetch-Site {site!r} refused: controls accept requests from the live page only"
    ctype = (_get(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        return 415, "controls take a JSON body (Content-Type: application/json)"
    if _get(headers, CONTROL_HEADER) != "1":
        return 403, f"controls need the header {CONTROL_HEADER}: 1"
    return None
