"""slow_close: data passes; the close is held back ``delay`` ms."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import Chunk, Toxic, ToxicStub, each_chunk


@register("slow_close")
class SlowCloseToxic(Toxic):
    go_name = "SlowCloseToxic"
    delay: int = 0

    async def pipe(self, stub: ToxicStub) -> None:
        async def forward(chunk: Chunk) -> bool:
            stub.send(chunk)
            return True

        async def close_late() -> None:
            # interrupted or not, the close goes on: a held EOF is in-flight data too
            await stub.sleep(self.delay / 1000.0)
            stub.close()

        await each_chunk(stub, forward, at_eof=close_late)
