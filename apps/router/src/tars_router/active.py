"""Per-turn and per-site bookkeeping of the router service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from tars.contracts.llm import LlmResponse
from tars_router.sentences import SentenceSplitter
from tars_router.turns import TurnMachine

Path = Literal["intent", "llm", "error"]


@dataclass(eq=False)
class ActiveTurn:
    """One turn the router is answering (keyed by its correlation id)."""

    cid: str
    site: str
    text: str
    speak: bool
    started: float  # monotonic
    path: Path = "llm"
    intent: str | None = None
    reason: str | None = None  # overrides the end reason in the TurnResult (degradation)
    replies: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    first_token_ms: float | None = None
    splitter: SentenceSplitter = field(default_factory=SentenceSplitter)
    fed: str = ""
    index: int = 0  # next TTS_SAY index
    llm_requested: bool = False
    llm_finished: bool = False
    tts_heard: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    activity: asyncio.Event = field(default_factory=asyncio.Event)  # first chunk or response
    stream_done: asyncio.Event = field(default_factory=asyncio.Event)
    tts_started: asyncio.Event = field(default_factory=asyncio.Event)
    response: asyncio.Future[LlmResponse] | None = None
    task: asyncio.Task[None] | None = None

    @property
    def reply(self) -> str:
        return " ".join(r for r in self.replies if r)


@dataclass(eq=False)
class SiteState:
    """A site's turn machine, its armed deadline and its speaker volume."""

    machine: TurnMachine
    volume: float = 1.0
    deadline: asyncio.TimerHandle | None = None
