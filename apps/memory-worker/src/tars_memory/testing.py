"""Test helpers: a deterministic bag-of-words embedder that needs no model, a bus client."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from tars import clients
from tars.contracts import topics as T
from tars.contracts.character import Character
from tars.contracts.errors import ErrorEvent
from tars.contracts.memory import (
    MemoryAck,
    MemoryIngest,
    MemoryQuery,
    MemoryResults,
)
from tars.runtime import Inbound, Requester, Service

from .embedder import Vectors, normalize_rows

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Embedder stand-in: hashed bag of words, unit length; texts sharing words are close.

    Useful to exercise the store (crash recovery, filters) without loading a model.
    """

    def __init__(self, dim: int = 64, name: str | None = None) -> None:
        self._dim = dim
        self._name = name or f"hashing-{dim}"
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def load(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Hash each lower-cased word into a signed bucket, then L2-normalize."""
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
                out[row, h % self._dim] += 1.0 if (h >> 16) & 1 else -1.0
        return normalize_rows(out)


class MemoryClient(clients.MemoryClient):
    """Talks to a memory worker the way other workers do (the tars client), plus error / character
    taps; ``start`` starts the service too."""

    def __init__(self, service: Service, timeout_s: float = 10.0) -> None:
        super().__init__(service, timeout_s=timeout_s)
        self.errors: asyncio.Queue[Inbound[ErrorEvent]] = asyncio.Queue()
        self.characters: asyncio.Queue[Character] = asyncio.Queue()
        service.handle(T.SYSTEM_ERROR, self.errors.put)
        service.handle(T.CHARACTER_CURRENT, self._on_character)

    async def _on_character(self, msg: Inbound[Character]) -> None:
        await self.characters.put(msg.payload)

    async def start(self, *requesters: Requester[Any]) -> None:
        """Start the service and the reply subscriptions."""
        await self.service.start()
        await super().start(*(requesters or (self.query, self.ingest, self.forget, self.stats)))

    async def close(self) -> None:
        await super().close()
        await self.service.stop()

    async def remember(self, text: str, role: str = "fact", site: str | None = None,
                       ts: float | None = None) -> MemoryAck:
        payload = MemoryIngest.model_validate({"text": text, "role": role, "source": "test",
                                               "ts": ts})
        return await self.store(payload, site_id=site)

    async def recall(self, text: str, **kw: Any) -> Inbound[MemoryResults]:
        return await self.query.request(MemoryQuery.model_validate({"text": text, **kw}))
