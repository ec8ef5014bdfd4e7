"""Chunking is deterministic, overlapping, covers every word, and ids are stable."""

from __future__ import annotations

import pytest

from ragchaos.kit.chunking import Chunk, chunk_id, chunk_text


def words(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_windows_overlap_and_cover_every_word() -> None:
    chunks = chunk_text(words(25), words=10, overlap=3)
    assert [c.text.split()[0] for c in chunks] == ["w0", "w7", "w14", "w21"]
    assert chunks[0].text.split()[-3:] == chunks[1].text.split()[:3]  # the overlap
    covered = {w for c in chunks for w in c.text.split()}
    assert covered == set(words(25).split())
    assert chunks[-1].text.split()[-1] == "w24"


def test_short_text_is_one_chunk_and_blank_is_none() -> None:
    assert chunk_text("just a few words", words=10, overlap=2) == [Chunk(0, "just a few words", 0, 16)]
    assert chunk_text("  \n\t ") == []


def test_chunk_text_is_an_original_slice() -> None:
    text = "alpha  beta\n\ngamma delta"
    (c,) = chunk_text(text, words=10, overlap=0)
    assert c.text == text[c.start : c.end] == "alpha  beta\n\ngamma delta"


def test_same_input_same_chunks() -> None:
    text = words(300)
    assert chunk_text(text) == chunk_text(text)


@pytest.mark.parametrize(("w", "o"), [(0, 0), (5, 5), (5, -1)])
def test_bad_window_is_refused(w: int, o: int) -> None:
    with pytest.raises(ValueError):
        chunk_text("a b c", words=w, overlap=o)


def test_chunk_ids_are_stable_and_scoped() -> None:
    assert chunk_id("t1", "d1", "text") == chunk_id("t1", "d1", "text")
    assert chunk_id("t1", "d1", "text") != chunk_id("t2", "d1", "text")
    assert chunk_id("t1", "d1", "text") != chunk_id("t1", "d2", "text")
    assert chunk_id("ab", "c", "x") != chunk_id("a", "bc", "x")  # no concatenation collisions
