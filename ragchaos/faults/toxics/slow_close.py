"""slow_close: data passes; the close is held back ``delay`` ms."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import INTERRUPTED, Toxic, ToxicStub


@register("slow_close")
class SlowCloseToxic(Toxic):
    go_name = "SlowCloseToxic"
    delay: int = 0

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is INTERRUPTED:
                return
            if chunk is None:
                # interrupted or not, the close goes on: a held EOF is in-flight data too
                await stub.sleep(self.delay / 1000.0)
                stub.close()
                return
            stub.send(chunk)
