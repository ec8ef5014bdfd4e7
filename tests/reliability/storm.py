"""An ingest storm against one app and the ledger of what it accepted, and Chroma's side of it.

``storm`` posts documents from ``concurrency`` clients; every 202 goes to the ledger, anything
else (a refusal, a reset connection while the app is down) leaves the document un-accepted.
``stored_chunks`` reads the app's collection straight from Chroma, so loss and duplication are
counted against the store itself, not against what the app says about it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import chromadb
import httpx

from ragchaos.kit.chunking import chunk_text
from ragchaos.kit.vectors import chroma_settings, chunk_records
from ragchaos.stack.local import Endpoint

WORDS = ["refund", "shipping", "courier", "parcel", "lighthouse", "storm", "lamp", "garden", "compost", "telescope", "nebula", "galaxy", "orbit"]


def small_document(i: int, words: int = 30) -> str:
    """About ``words`` words, one chunk, with a token no other document has (``docNxM``)."""
    return " ".join(f"doc{i}x{j}" if j % 5 == 0 else WORDS[(i * 7 + j) % len(WORDS)] for j in range(words))


@dataclass(frozen=True)
class Doc:
    tenant: str
    doc_id: str
    text: str

    def chunk_ids(self) -> set[str]:
        return {r.id for r in chunk_records(self.tenant, self.doc_id, chunk_text(self.text), None)}


@dataclass
class Ledger:
    accepted: dict[str, str] = field(default_factory=dict)  # doc_id -> job id
    refused: Counter[str] = field(default_factory=Counter)  # status or exception name -> count


async def storm(
    url: str, docs: Sequence[Doc], ledger: Ledger, *, concurrency: int = 32,
    on_accepted: Callable[[int], None] | None = None,
) -> None:
    """Post every document once; ``on_accepted(n)`` after each 202 (n: accepted so far)."""
    queue: asyncio.Queue[Doc] = asyncio.Queue()
    for d in docs:
        queue.put_nowait(d)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(20.0, connect=2.0)) as c:
            while not queue.empty():
                d = queue.get_nowait()
                try:
                    r = await c.post("/v1/documents", json={"tenant": d.tenant, "doc_id": d.doc_id, "text": d.text})
                except httpx.HTTPError as exc:
                    ledger.refused[type(exc).__name__] += 1
                    continue
                if r.status_code == 202:
                    ledger.accepted[d.doc_id] = r.json()["job_id"]
                    if on_accepted is not None:
                        on_accepted(len(ledger.accepted))
                else:
                    ledger.refused[str(r.status_code)] += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))


def stored_chunks(chroma: Endpoint, collection: str, tenant: str) -> list[tuple[str, str]]:
    """(chunk id, doc id) of every chunk of ``tenant`` in the app's collection."""
    client = chromadb.HttpClient(host=chroma.host, port=chroma.port, settings=chroma_settings())
    col = client.get_collection(collection)
    got = col.get(where={"tenant": tenant}, include=["metadatas"])
    return [(cid, str(meta["doc_id"])) for cid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)]


def queue_states(db: Path) -> dict[str, int]:
    """Job states in the app's queue file (read while the app is down)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
    finally:
        con.close()
