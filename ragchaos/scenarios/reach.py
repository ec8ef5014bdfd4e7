"""Did each fault reach its target? A verdict, so a fault that missed fails the run, not passes it.

A network fault acts on the proxy in front of one of the target's dependencies; it reaches the
target only if the target really calls through that proxy. A service that reads its vector
store's address from its own variables keeps calling the real one unless it is wired to the
proxy, and its "fault phase" then injects nothing. The rule, per fault and target:

- **reached**: the fault proxy carried at least one call (or opened a connection) of the
  target's while the fault was in place: from its recorded apply time to its revert time. A
  ``down`` fault refuses connections, so nothing can cross it: there the evidence is the 15 s
  before it went down and the 15 s after it came back. A provider fault (429s, 5xx, slow
  answers) acts on the target's key at the provider, so the provider's own count of the key's
  requests in the phases the fault overlapped counts too.
- **missed** (fails the run): none of that, while the target answered requests in the window.
  The message names the dependency, its proxy and how to wire the target to it.
- **not judged** (never fails): the proxy cannot time calls (a real Toxiproxy), the fault was
  never applied, or the target answered no request in the window (nothing to conclude from).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ragchaos.reports.results import FaultReach

__all__ = ["DOWN_EVIDENCE_S", "ReachInput", "judge_reach", "wiring_hint"]

DOWN_EVIDENCE_S = 15.0


@dataclass(frozen=True)
class ReachInput:
    fault: str
    app: str
    dependency: str
    proxy: str
    proxy_addr: str | None  # host:port the proxy listens on
    applied_s: float | None
    reverted_s: float | None
    end_s: float  # the end of the load (a fault not reverted lasted until then)
    down: bool  # the fault disables the proxy
    provider: bool  # the fault acts at the provider, by the target's key
    measured: bool  # the proxy times calls (the built-in one)
    note: str = ""  # why not, when not measured


# (a, b) seconds from the run start -> (calls, connections) through the proxy / requests answered
Activity = Callable[[float, float], tuple[int, int]]
Served = Callable[[float, float], int]


def judge_reach(f: ReachInput, activity: Activity, served: Served, provider_requests: int = 0,
                hint: str = "") -> FaultReach:
    where = f"{f.app}/{f.dependency}"
    if f.applied_s is None:
        return FaultReach(verdict="not judged", message=f"{f.fault} on {where} was never applied")
    a, b = f.applied_s, f.reverted_s if f.reverted_s is not None else f.end_s
    answered = served(a, b)
    if not f.measured:
        return FaultReach(verdict="not judged", requests_served=answered,
                          message=f"{f.fault} on {where}: not judged ({f.note or 'the proxy does not time calls'})")
    if f.down:
        before, after = activity(max(0.0, a - DOWN_EVIDENCE_S), a), activity(b, b + DOWN_EVIDENCE_S)
        calls, conns = before[0] + after[0], before[1] + after[1]
        span = f"in the {DOWN_EVIDENCE_S:g} s before {a:.1f}s and after {b:.1f}s (a down proxy carries nothing)"
    else:
        calls, conns = activity(a, b)
        span = f"from {a:.1f}s to {b:.1f}s"
    reach = FaultReach(verdict="reached", calls=calls, connections=conns, requests_served=answered,
                       provider_requests=provider_requests)
    if calls or conns or (f.provider and provider_requests):
        reach.message = (f"{f.fault} on {where}: proxy {f.proxy} carried {calls} calls and {conns} new "
                         f"connections of {f.app} {span}")
        if f.provider and not (calls or conns):
            reach.message = f"{f.fault} on {where}: the provider served {provider_requests} requests of {f.app}'s key"
        return reach
    if not answered:
        reach.verdict = "not judged"
        reach.message = f"{f.fault} on {where}: {f.app} answered no request {span}; nothing to conclude"
        return reach
    reach.verdict = "missed"
    at = f" ({f.proxy_addr})" if f.proxy_addr else ""
    reach.message = (f"fault {f.fault!r} did not reach {f.app}: its proxy {f.proxy}{at} carried no call of "
                     f"{f.app} {span}, while {f.app} answered {answered} requests. {f.app} is calling its "
                     f"{f.dependency} some other way. {hint}").strip()
    return reach


def wiring_hint(app: str, dependency: str, started: bool, provider: bool, addr: str | None) -> str:
    """How to make ``app`` call ``dependency`` through its proxy."""
    if provider:
        return (f"The openai SDK reads OPENAI_BASE_URL (set to the proxy for {app}); a client built with its "
                f"own base_url ignores it: pass base_url from the environment, or use "
                f"{{{dependency}.url}}/v1 in the target's env: or command: (docs/your-service.md).")
    if not started:
        return (f"{app} was not started by ragchaos: point it at {addr or 'the proxy address printed at the start'} "
                f"for {dependency} and run again.")
    return (f"Hand it the proxy's address in its target, e.g. env: {{MY_{dependency.upper()}_HOST: "
            f"\"{{{dependency}.host}}\", MY_{dependency.upper()}_PORT: \"{{{dependency}.port}}\"}} or "
            f"{{{dependency}.url}} in its command, with the variable names the service reads "
            "(docs/your-service.md, \"Dependencies through the fault proxy\").")
