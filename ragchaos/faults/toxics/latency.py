"""latency: each chunk leaves ``latency ± jitter`` ms after it was received (pipelined, never reordered)."""

from __future__ import annotations

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import Chunk, Toxic, ToxicStub, each_chunk


@register("latency")
class LatencyToxic(Toxic):
    go_name = "LatencyToxic"
    latency: int = 0
    jitter: int = 0

    def _delay_s(self, stub: ToxicStub) -> float:
        delay = self.latency
        if self.jitter > 0:  # Go: rand.Int63n(2*jitter) - jitter, i.e. [-jitter, jitter-1]
            delay += stub.rng.randrange(2 * self.jitter) - self.jitter
        return delay / 1000.0

    async def pipe(self, stub: ToxicStub) -> None:
        async def delay(chunk: Chunk) -> bool:
            # counted from the chunk's receipt, so chunks queued behind it are not delayed twice
            sleep = self._delay_s(stub) - (stub.loop_time - chunk.ts)
            if not await stub.sleep(sleep):
                stub.send(chunk)  # interrupted: pass it on now, without the delay
                return False
            chunk.ts += sleep  # the next latency toxic in the chain counts from here: they add up
            stub.send(chunk)
            return True

        await each_chunk(stub, delay)
