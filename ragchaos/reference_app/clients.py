"""Pooling: one OpenAI client and one Chroma client for the app's lifetime.

Pooled clients keep connections alive (no TCP handshake, no Chroma tenant/database handshake per
request) and carry explicit timeouts; the SDK's own retries are off (``max_retries=0``) so every
retry is the app's (ragchaos/reference_app/retries.py), counted and inside the request deadline. The
``pooling`` switch off makes a new client per call, as the naive app does.

Chroma's HTTP client has no timeout of its own (httpx ``timeout=None``); every Chroma call goes
through a guard whose per-attempt ``asyncio.timeout`` bounds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import chromadb
import httpx2
from openai import AsyncOpenAI, DefaultAsyncHttpxClient

from ragchaos.kit.vectors import COLLECTION_METADATA, chroma_settings
from ragchaos.reference_app.settings import ReferenceSettings

__all__ = ["Clients"]


class Clients:
    def __init__(self, settings: ReferenceSettings, *, pooled: bool = True) -> None:
        self.settings = settings
        self.pooled = pooled
        self._openai: AsyncOpenAI | None = None
        self._collection: Any = None
        self._lock = asyncio.Lock()
        self.created = {"openai": 0, "chroma": 0}  # how many clients were made (pooling's effect)

    def _new_openai(self) -> AsyncOpenAI:
        s = self.settings
        self.created["openai"] += 1
        if not self.pooled:
            return AsyncOpenAI(base_url=s.provider_url, api_key=s.api_key, max_retries=0)
        return AsyncOpenAI(
            base_url=s.provider_url,
            api_key=s.api_key,
            max_retries=0,
            timeout=httpx2.Timeout(s.provider_timeout_s, connect=s.provider_connect_timeout_s),
            http_client=DefaultAsyncHttpxClient(
                limits=httpx2.Limits(max_connections=s.provider_max_connections,
                                    max_keepalive_connections=s.provider_max_connections)
            ),
        )

    async def _new_collection(self) -> Any:
        s = self.settings
        self.created["chroma"] += 1
        client = await chromadb.AsyncHttpClient(host=s.chroma_host, port=s.chroma_port, settings=chroma_settings())
        return await client.get_or_create_collection(
            s.collection_name, metadata=COLLECTION_METADATA, embedding_function=None
        )

    @asynccontextmanager
    async def openai(self) -> AsyncIterator[AsyncOpenAI]:
        if not self.pooled:
            client = self._new_openai()
            try:
                yield client
            finally:
                await client.close()
            return
        if self._openai is None:
            self._openai = self._new_openai()
        yield self._openai

    async def collection(self) -> Any:
        """The app's collection (made once when pooled; a failed attempt is retried next call)."""
        if not self.pooled:
            return await self._new_collection()
        if self._collection is None:
            async with self._lock:
                if self._collection is None:
                    self._collection = await self._new_collection()
        return self._collection

    async def close(self) -> None:
        if self._openai is not None:
            await self._openai.close()
            self._openai = None
