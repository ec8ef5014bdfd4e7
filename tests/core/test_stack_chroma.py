"""The stack's Chroma piece: a real server process, reachable, and gone after stop."""

import socket

import chromadb

from ragchaos.core.procs import ProcessGroup
from ragchaos.stack.local import start_chroma


def test_chroma_server_starts_serves_and_stops(tmp_path) -> None:
    group = ProcessGroup()
    try:
        proc, endpoint = start_chroma(group, tmp_path / "logs", tmp_path / "chroma")
        client = chromadb.HttpClient(host=endpoint.host, port=endpoint.port)
        col = client.get_or_create_collection("stacktest", embedding_function=None, metadata={"hnsw:space": "cosine"})
        col.upsert(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]], metadatas=[{"t": "x"}, {"t": "y"}])
        found = col.query(query_embeddings=[[0.9, 0.1]], n_results=1, where={"t": "x"})
        assert found["ids"] == [["a"]]
    finally:
        group.stop_all()
    assert not proc.alive()
    with socket.socket() as s:
        assert s.connect_ex((endpoint.host, endpoint.port)) != 0
