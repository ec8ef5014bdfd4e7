"""Recorders filled in separate processes, shipped as dicts and merged, equal one recorder
that saw everything (the Locust worker -> master path)."""

from __future__ import annotations

import multiprocessing as mp
import random

from ragchaos.reports.recorder import Recorder

OUTCOMES = ["ok"] * 17 + ["429", "5xx", "timeout", "shed", "quota", "reset"]


def requests(seed: int, n: int) -> list[tuple]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        intended = 1_000.0 + i * 0.003
        actual = intended + rng.expovariate(50)
        end = actual + rng.lognormvariate(-3, 1.2)
        out.append((rng.choice(["naive", "reference"]), rng.choice(["query", "ingest"]),
                    rng.choice(["steady", "fault"]), intended, actual, end, rng.choice(OUTCOMES),
                    rng.random() * 0.1 if rng.random() < 0.5 else None))
    return out


def record_all(rec: Recorder, rows: list[tuple]) -> None:
    for app, kind, phase, intended, actual, end, outcome, ttft in rows:
        rec.record(app, kind, phase, intended_start=intended, actual_start=actual, end=end, outcome=outcome,
                   ttft=ttft)


def worker(rows: list[tuple]) -> dict:
    rec = Recorder()
    record_all(rec, rows)
    return rec.drain()


def test_split_across_processes_and_merged_equals_whole() -> None:
    rows = requests(seed=9, n=12_000)
    whole = Recorder()
    record_all(whole, rows)
    chunks = [rows[i::3] for i in range(3)]
    ctx = mp.get_context("spawn")  # a fresh interpreter: nothing shared with this process
    with ctx.Pool(3) as pool:
        shipped = pool.map(worker, chunks)
    merged = Recorder()
    for data in shipped:
        merged.merge(data)
    for app in ("naive", "reference"):
        for phase in ("steady", "fault"):
            a, b = merged.client_stats(app, phase), whole.client_stats(app, phase)
            assert a == b  # counts, error classes, every percentile and the encoded histograms
        assert merged.intervals(app, 1_000.0) == whole.intervals(app, 1_000.0)
    assert sum(merged.client_stats(a, p).requests for a in ("naive", "reference")
               for p in ("steady", "fault")) == len(rows)
