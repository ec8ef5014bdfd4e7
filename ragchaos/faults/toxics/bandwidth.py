"""bandwidth: at most ``rate`` KB/s (1 KB = 1000 bytes); big chunks leave in 100 ms slices."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import INTERRUPTED, Chunk, Toxic, ToxicStub


@register("bandwidth")
class BandwidthToxic(Toxic):
    go_name = "BandwidthToxic"
    rate: int = 0

    async def pipe(self, stub: ToxicStub) -> None:
        debt = 0.0  # seconds still owed; carries the timer's error into the next chunk
        while True:
            chunk = await stub.recv()
            if chunk is INTERRUPTED:
                return
            if chunk is None:
                stub.close()
                return
            if self.rate <= 0:
                # rate 0 stalls the stream for good (the real one sends empty slices forever); a
                # negative rate, accepted as the real one accepts it (and then panics), stalls too
                await stub.wait_interrupt()
                stub.send(chunk)
                return
            data = chunk.data
            debt += len(data) / (self.rate * 1000.0)
            piece = self.rate * 100  # bytes per 100 ms
            while len(data) > piece:
                if not await stub.sleep(0.1):
                    stub.send(Chunk(data, chunk.ts))
                    return
                stub.send(Chunk(data[:piece], chunk.ts))
                data = data[piece:]
                debt -= 0.1
            start = stub.loop_time
            if not await stub.sleep(debt):
                stub.send(Chunk(data, chunk.ts))
                return
            debt -= stub.loop_time - start
            stub.send(Chunk(data, chunk.ts))
