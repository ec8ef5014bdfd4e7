"""How often redis-py's asyncio client loses a task's cancellation, and that ``cancel_and_wait``
still ends every such task (ragchaos/reference_app/tasks.py).

A task loops on XCLAIM JUSTID (what the ingest keepalive sends), against a private
``redis-server`` on loopback (or ``--redis-url``); it is cancelled once at a random moment, and
"lost" counts the tasks still running ``--grace`` seconds later. Each is then stopped with
``cancel_and_wait``, bounded at 10 s; "not ended" must be 0.

    .venv/bin/python benchmarks/bench_redis_cancel.py --cancels 600
    .venv/bin/python benchmarks/bench_redis_cancel.py --quick --json cancel.json   # make bench: a few s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
from pathlib import Path

import figures
import redis.asyncio as aioredis

from ragchaos.reference_app.shared.namespace import connect
from ragchaos.reference_app.tasks import cancel_and_wait
from ragchaos.stack.redis_server import acquire_redis

STREAM, GROUP = "ragchaos-bench:cancel:stream", "g"


async def _xclaim_loop(client: aioredis.Redis) -> None:
    while True:
        with contextlib.suppress(aioredis.RedisError):
            await client.xclaim(STREAM, GROUP, "c", 0, ["0-1"], justid=True)
        await asyncio.sleep(0)


async def main_async(url: str, cancels: int, grace_s: float, seed: int) -> dict[str, int]:
    client = connect(url, "ragchaos-bench:").client
    rng = random.Random(seed)
    lost = not_ended = 0
    try:
        await client.delete(STREAM)
        await client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        for _ in range(cancels):
            task = asyncio.create_task(_xclaim_loop(client))
            await asyncio.sleep(rng.random() * 0.003)
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=grace_s)
            if not done:
                lost += 1
                try:
                    await asyncio.wait_for(cancel_and_wait([task]), 10.0)
                except TimeoutError:
                    not_ended += 1
    finally:
        await client.delete(STREAM)
        await client.aclose()
    return {"cancels": cancels, "lost": lost, "not_ended_by_cancel_and_wait": not_ended}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cancels", type=int, default=600)
    p.add_argument("--grace", type=float, default=0.5, help="seconds a cancelled task has to end")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--redis-url", default=None, help="default: a private redis-server on a free port")
    args = figures.parse(p, {"cancels": 100})
    if args.redis_url:
        result = asyncio.run(main_async(args.redis_url, args.cancels, args.grace, args.seed))
    else:
        with tempfile.TemporaryDirectory() as logs, acquire_redis(Path(logs), shared=None) as redis:
            result = asyncio.run(main_async(redis.url, args.cancels, args.grace, args.seed))
    print(f"cancels {result['cancels']}: lost {result['lost']} (still running {args.grace} s after one cancel); "
          f"not ended by cancel_and_wait: {result['not_ended_by_cancel_and_wait']}")
    figures.write(args, {**result, "grace_s": args.grace, "headline": {
        "cancels lost by redis-py / not ended by cancel_and_wait":
            f"{result['lost']} of {result['cancels']} / {result['not_ended_by_cancel_and_wait']}"}})


if __name__ == "__main__":
    main()
