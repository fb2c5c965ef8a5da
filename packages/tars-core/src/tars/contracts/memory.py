"""Memory payloads: query/results, ingest, forget, stats."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tars.contracts.envelope import Payload

Role = Literal["user", "assistant", "fact", "note"]


class MemoryFilter(Payload):
    site_id: str | None = None
    role: Role | None = None
    roles: list[Role] | None = None
    """Any of these roles (the llm asks for what the user said, never for assistant replies)."""
    since: float | None = None
    until: float | None = None


class MemoryQuery(Payload):
    text: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=100)
    threshold: float = 0.0
    filter: MemoryFilter = MemoryFilter()


class MemoryHit(Payload):
    id: int
    text: str
    score: float
    role: str
    site_id: str | None = None
    ts: float
    source: str = ""


class MemoryResults(Payload):
    hits: list[MemoryHit] = []
    error: str | None = None


class MemoryIngest(Payload):
    text: str
    role: Role = "note"
    source: str = ""
    ts: float | None = None


class MemoryForget(Payload):
    ids: list[int] = []
    filter: MemoryFilter | None = None
    text_contains: str | None = None
    all: bool = False


class MemoryStatsRequest(Payload):
    """Ask the memory worker for its numbers; answered on memory/ack with op "stats"."""


class MemoryAck(Payload):
    """Reply to ingest/forget/stats requests."""

    op: Literal["ingest", "forget", "stats"]
    count: int = 0
    ids: list[int] = []
    error: str | None = None
    stats: dict[str, float] = {}
