"""slicer: splits each chunk into pieces of about ``average_size ± size_variation`` bytes, ``delay`` µs apart."""

from __future__ import annotations

import random

from ragchaos.faults.toxics import register
from ragchaos.faults.toxics.base import INTERRUPTED, Chunk, Toxic, ToxicStub


@register("slicer")
class SlicerToxic(Toxic):
    go_name = "SlicerToxic"
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0

    def bounds(self, size: int, rng: random.Random) -> list[int]:
        """Split points 0..size: halve around a jittered middle until pieces are small enough.

        Every value the API accepts is safe here: an ``average_size`` of 0 or less (the real server
        recurses until its stack overflows) gives 1-byte pieces, a negative variation counts as 0.
        """
        variation = max(self.size_variation, 0)
        out = [0]
        todo = [(0, size)] if size > 0 else []
        while todo:  # a stack instead of Go's recursion, kept in order (right half pushed first)
            start, end = todo.pop()
            if (end - start) - self.average_size <= variation or end - start < 2:
                out.append(end)
                continue
            mid = start + (end - start) // 2
            if variation > 0:
                mid += rng.randrange(variation * 2) - variation
            mid = min(max(mid, start + 1), end - 1)
            todo.append((mid, end))
            todo.append((start, mid))
        return out

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.recv()
            if chunk is INTERRUPTED:
                return
            if chunk is None:
                stub.close()
                return
            cuts = self.bounds(len(chunk.data), stub.rng)
            for i in range(1, len(cuts)):
                stub.send(Chunk(chunk.data[cuts[i - 1]:cuts[i]], chunk.ts))
                if i < len(cuts) - 1 and not await stub.sleep(self.delay / 1_000_000.0):
                    stub.send(Chunk(chunk.data[cuts[i]:], chunk.ts))
                    return
