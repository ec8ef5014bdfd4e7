"""reset_churn: every ``every`` ms each open connection is reset with the toxic's toxicity.

Ours, not Toxiproxy's: its ``reset_peer`` rolls toxicity once per connection when the toxic
starts on it, so a pooled connection that was spared stays spared for the whole fault, and a
client with a connection pool dodges most resets. Here the stub rolls again every ``every`` ms
(the ``Rerolled`` capability), so established, pooled connections are reset too: mid-request
when a call is in flight, or idle between requests (the client finds out on its next call).
When the roll says reset, the connection is closed at once with an RST (``stub.reset``).
"""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import Toxic, ToxicStub


@register("reset_churn")
class ResetChurnToxic(Toxic):
    go_name = "ResetChurnToxic"
    every: int = 500  # ms between rolls on each open connection

    def check(self) -> str | None:
        return "reset_churn: every must be at least 1 (ms)" if self.every < 1 else None

    def wants_reset(self) -> bool:
        return True

    def reroll_after_s(self) -> float:
        return self.every / 1000.0

    async def pipe(self, stub: ToxicStub) -> None:
        stub.reset()
