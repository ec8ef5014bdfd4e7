"""Fault injection: a Toxiproxy-compatible TCP fault proxy, one client for any Toxiproxy, and the fault timeline.

Public API (what the rest of ragchaos imports):
- ``FaultStep``, ``FaultSpec`` and the kinds: the ``faults:`` list of a scenario (pydantic).
- ``Timeline``, ``FaultRecord``: apply and revert steps on time; record what really happened.
- ``ToxiproxyClient``: the only way code outside faults/ talks to a Toxiproxy.
"""
