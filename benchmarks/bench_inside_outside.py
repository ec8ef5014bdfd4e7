"""The reference app's own stage p50s beside the same calls timed at the fault proxy.

    .venv/bin/python benchmarks/bench_inside_outside.py [--disable cache,batching] [--queries 60] [--quick] [--json F]

One reference app (provider, Chroma and the built-in proxy started here), its corpus indexed,
then ``--queries`` questions one at a time. Printed per stage: the app's p50 (``/_stats/hdr``),
the proxy's p50 for the same endpoint (``proxy.<dependency>.<endpoint>``), the gap and the ratio.
``--disable`` is the app's RAGCHAOS_DISABLE (default ``cache,batching``: every query makes every
call, and no micro-batching wait sits inside query.embed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import figures  # noqa: E402

from ragchaos.core.procs import ProcessGroup  # noqa: E402
from ragchaos.faults.calltiming import CallReader  # noqa: E402
from ragchaos.measure.stages import StageRecorder  # noqa: E402
from ragchaos.scenarios.proxycalls import ProxyCallFiler  # noqa: E402
from ragchaos.stack.local import AppLauncher, start_chroma, start_provider, start_toxiproxy  # noqa: E402

TOPICS = ["refunds within thirty days of purchase with a receipt", "shipping free above fifty euros by courier",
          "lighthouse keeper storm warning and fog horn", "garden compost seedlings and spring harvest"]
PAIRS = (("query.embed", "proxy.provider.embeddings"), ("query.retrieve", "proxy.vectordb.query"),
         ("query.generate", "proxy.provider.chat"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--disable", default="cache,batching")
    ap.add_argument("--queries", type=int, default=60)
    args = figures.parse(ap, {"queries": 12})
    d = Path(tempfile.mkdtemp(prefix="inside_outside_"))
    group = ProcessGroup()
    try:
        _, provider = start_provider(group, d / "logs")
        _, chroma = start_chroma(group, d / "logs", d / "chroma")
        toxiproxy = start_toxiproxy(group, d / "logs")
        app = AppLauncher(toxiproxy.url, provider, chroma, group, d / "logs", d / "data").launch(
            "reference", env={"RAGCHAOS_DISABLE": args.disable})
        c = httpx.Client(base_url=app.url, timeout=60)
        jobs = [c.post("/v1/documents", json={"tenant": "acme", "doc_id": f"d{i}", "text": t * 12}).json()["job_id"]
                for i, t in enumerate(TOPICS)]
        while any(c.get(f"/v1/jobs/{j}").json()["state"] != "done" for j in jobs):
            time.sleep(0.2)
        c.post("/_stats/reset")
        filer = ProxyCallFiler(CallReader(toxiproxy.url), {n: ("reference", dep) for dep, n in app.proxies.items()})
        filer.start(time.time(), lambda t: "steady")
        for i in range(args.queries):
            c.post("/v1/query", json={"tenant": "acme", "question": f"what about {TOPICS[i % 4]} ({i})?"}).raise_for_status()
        time.sleep(0.5)
        filer.finish()
        inside = StageRecorder.decode_export(c.get("/_stats/hdr").json())
    finally:
        group.stop_all()
    outside = filer.stages("reference", "steady")
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}, RAGCHAOS_DISABLE={args.disable}, "
          f"{args.queries} queries one at a time")
    print(f"{'stage':16} {'n':>4} {'inside p50':>11} {'at the proxy':26} {'n':>4} {'p50':>9} {'gap':>8} {'ratio':>6}")
    rows = {}
    for own, at in PAIRS:
        hi, ho = inside[own], outside[at]
        i50, o50 = hi.percentile_us(50) / 1000, ho.percentile_us(50) / 1000
        print(f"{own:16} {hi.count:4} {i50:9.2f}ms {at:26} {ho.count:4} {o50:7.2f}ms {i50 - o50:6.2f}ms {i50 / o50:6.3f}")
        rows[own] = {"at_proxy": at, "n": hi.count, "n_proxy": ho.count, "p50_ms": round(i50, 2),
                     "proxy_p50_ms": round(o50, 2), "gap_ms": round(i50 - o50, 2), "ratio": round(i50 / o50, 3)}
    figures.write(args, {"disable": args.disable, "queries": args.queries, "stages": rows,
                         "headline": {own: f"{r['ratio']:.3f} (gap {r['gap_ms']:.1f} ms)" for own, r in rows.items()}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
