"""Poison ingest: the good documents' freshness with 2% poison beside the same run without any.

Issue 20's benchmark. One stack (the provider, Chroma, the fault proxy, a private Redis), and for
each queue mode (SQLite; Redis Streams) and each round, two fresh reference apps fed the same
``--docs`` documents from 16 clients each under the same transient fault window (a 503 on the
app's embeddings calls until a quarter of the documents were accepted and the queue had
retried): one run with no poison, one with ``--poison-share`` of them carrying a chunk over the
embedding model's 8,192-token limit (the provider's real 400). Freshness is the job's own
accepted -> done time, for the good documents only; the figure is the ratio of the p99s within
each pair (median over rounds). Also: indexed, retried (all jobs, and the good documents' own
failed attempts), dead-lettered, lost, and replay after the cause is removed (the provider's
input limit raised; only the poison run has dead letters to replay).

The two runs of a pair run *at the same time* (two threads, two apps, two provider keys with a
fault each). Run one after the other, they did not compare like with like: how long the fault
window lasts, and so how many attempts every good document spends in it (breaker open, retries
exhausted), depends on how fast this shared box accepts and works at that moment, and a pair
once differed by 50 against 1,477 retries with no poison involved (the same load gives ~1,000
either way). Side by side, both runs meet the same load.

    .venv/bin/python benchmarks/bench_poison_ingest.py --docs 1000 --rounds 2
    .venv/bin/python benchmarks/bench_poison_ingest.py --quick --json poison.json   # make bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import figures

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' poison-run driver

from ragchaos.core.procs import ProcessGroup  # noqa: E402
from ragchaos.stack.local import (  # noqa: E402
    AppHandle,
    AppLauncher,
    Endpoint,
    start_chroma,
    start_provider,
    start_toxiproxy,
)
from ragchaos.stack.redis_server import acquire_redis  # noqa: E402
from tests.reliability import poison  # noqa: E402

KEYS = [f"bench-poison-{i}" for i in range(40)]
ENV = {"RAGCHAOS_QUOTA__RATE_PER_S": "100000", "RAGCHAOS_QUOTA__BURST": "100000",
       "RAGCHAOS_INGEST_MAX_ATTEMPTS": "8", "RAGCHAOS_INGEST_CLAIM_IDLE_S": "5"}


def main(argv: list[str] | None = None) -> int:
    with ProcessGroup().signals_stop():  # SIGTERM unwinds through the finally that stops the servers
        return _main(argv)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--poison-share", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", nargs="+", default=["local", "redis"], choices=["local", "redis"])
    args = figures.parse(parser, {"docs": 200, "rounds": 1})
    out: dict[str, Any] = {"docs": args.docs, "poison_share": args.poison_share, "rounds": args.rounds}
    keys = iter(KEYS)
    with tempfile.TemporaryDirectory(prefix="bench-poison-") as tmp:
        root = Path(tmp)
        group = ProcessGroup()
        try:
            _, provider = start_provider(group, root / "logs", env={"RAGCHAOS_PROVIDER_KEYS": ",".join(KEYS)})
            _, chroma = start_chroma(group, root / "logs", root / "chroma")
            toxiproxy = start_toxiproxy(group, root / "logs")
            with acquire_redis(root / "logs") as redis:
                launcher = AppLauncher(toxiproxy.url, provider, chroma, group, root / "logs", root / "data")
                for mode in args.modes:
                    pairs = []
                    for r in range(args.rounds):
                        pair: dict[str, Any] = {}
                        apps = {}
                        try:
                            for variant in ("none", "poison"):
                                key = next(keys)
                                env = {**ENV, "RAGCHAOS_APP_NAME": "reference", "RAGCHAOS_PROVIDER_KEY": key,
                                       "RAGCHAOS_COLLECTION_PREFIX": key.replace("-", "")}
                                if mode == "redis":
                                    env |= {"REDIS_URL": redis.url,
                                            "RAGCHAOS_REDIS_PREFIX": f"bench:{uuid.uuid4().hex[:8]}:"}
                                apps[variant] = launcher.launch(key.replace("-", ""), kind="reference", env=env)
                            with ThreadPoolExecutor(max_workers=2) as pool:  # side by side: the same load
                                runs = {v: pool.submit(_run, app, provider, chroma, args.docs,
                                                       args.poison_share if v == "poison" else 0.0)
                                        for v, app in apps.items()}
                                for variant, run in runs.items():
                                    pair[variant] = run.result()
                                    print(mode, r, variant, pair[variant], flush=True)
                        finally:
                            for app in apps.values():
                                app.stop()
                        pair["p99_ratio"] = round(pair["poison"]["freshness_p99_s"] / pair["none"]["freshness_p99_s"], 3)
                        pairs.append(pair)
                    out[mode] = {"pairs": pairs,
                                 "p99_ratio_median": round(statistics.median(p["p99_ratio"] for p in pairs), 3)}
        finally:
            group.stop_all()  # also on SIGTERM: signals_stop turns it into KeyboardInterrupt
    out["headline"] = {f"poison-ingest freshness p99 ratio ({m}, 2% poison / none)": str(out[m]["p99_ratio_median"])
                       for m in args.modes}
    print(out["headline"])
    figures.write(args, out)
    return 0


def _run(app: AppHandle, provider: Endpoint, chroma: Endpoint, docs: int, share: float) -> dict[str, Any]:
    return poison.run(app, provider, chroma, "t" + uuid.uuid4().hex[:8], n_docs=docs, poison_share=share,
                      fault_until=docs // 4).summary()


if __name__ == "__main__":
    raise SystemExit(main())
