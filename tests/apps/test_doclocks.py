"""The per-document write lock (kit/doclocks.py) and the queue's version rule (reference_app/ingest.py)."""

from __future__ import annotations

import asyncio

import pytest

from ragchaos.kit.doclocks import DocumentLocks
from ragchaos.reference_app.ingest import DocIn, IndexedVersions, _last_of_each

pytestmark = pytest.mark.anyio


async def test_writers_of_one_document_take_turns_in_arrival_order() -> None:
    locks = DocumentLocks()
    log: list[str] = []

    async def writer(name: str, key: tuple[str, str]) -> None:
        async with locks.hold([key]):
            log.append(f"{name}+")
            await asyncio.sleep(0)  # a write in progress: another writer of the same doc must not start
            await asyncio.sleep(0)
            log.append(f"{name}-")

    await asyncio.gather(writer("a", ("t", "d")), writer("b", ("t", "d")), writer("c", ("t", "other")))
    same_doc = [e for e in log if e[0] in "ab"]
    assert same_doc == ["a+", "a-", "b+", "b-"]
    assert log.index("c+") < log.index("a-")  # another document is not held up
    assert len(locks) == 0  # nothing kept once no one holds or waits


async def test_batches_sharing_documents_do_not_deadlock() -> None:
    locks = DocumentLocks()

    async def batch(keys: list[tuple[str, str]]) -> None:
        async with locks.hold(keys):
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(batch([("t", "x"), ("t", "y")]), batch([("t", "y"), ("t", "x")])), 5)


def test_an_older_queued_version_never_overwrites_a_newer_one() -> None:
    seen = IndexedVersions(size=2)
    new, old = DocIn("t", "d", "new", None, version=2.0), DocIn("t", "d", "old", None, version=1.0)
    seen.record(new)
    assert seen.superseded(old) and not seen.superseded(new)
    assert not seen.superseded(DocIn("t", "d", "inline", None))  # inline writes: the lock's order decides
    assert _last_of_each([new, old, DocIn("t", "e", "x", None)]) == [new, DocIn("t", "e", "x", None)]
