"""timeout: drops all data; closes the connection after ``timeout`` ms without data (0: never).

Removing it closes the connection (``cleanup``), as in Toxiproxy.
"""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import INTERRUPTED, TIMED_OUT, Toxic, ToxicStub


@register("timeout")
class TimeoutToxic(Toxic):
    go_name = "TimeoutToxic"
    timeout: int = 0

    async def pipe(self, stub: ToxicStub) -> None:
        idle = self.timeout / 1000.0 if self.timeout > 0 else None
        while True:
            # the timer restarts with every chunk: an idle timeout
            chunk = await stub.recv(timeout=idle)
            if chunk is INTERRUPTED:
                return
            if chunk is TIMED_OUT or chunk is None:
                stub.close()
                return
            # data is dropped on the floor

    def cleanup(self, stub: ToxicStub) -> None:
        stub.close()
