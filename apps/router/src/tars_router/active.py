"""Per-turn and per-site bookkeeping of the router service."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from tars.contracts.llm import ChatMessage, LlmResponse
from tars_router.sentences import STREAMED, SentenceSplitter
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
    splitter: SentenceSplitter = field(default_factory=lambda: SentenceSplitter(STREAMED))
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
    stages: dict[str, float] = field(default_factory=dict)  # stage -> wall clock (POSIX s)
    llm_cid: str = ""  # correlation id of its LLM request: the turn id, or a redo's
    ahead_text: str = ""  # worked ahead on this (normalised) speculative transcript
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)  # the final agreed
    held: list[tuple[str, bool]] = field(default_factory=list)  # sentences before the final
    history: list[ChatMessage] | None = None  # the caller's own conversation (not the site's)

    def stamp(self, stage: str, at: float) -> None:
        """Record the first time ``stage`` happened."""
        self.stages.setdefault(stage, at)

    @property
    def reply(self) -> str:
        return " ".join(r for r in self.replies if r)


@dataclass(eq=False)
class SiteState:
    """A site's turn machine, its armed deadline, its speaker volume, its last wake and the
    turn worked ahead on a speculative transcript."""

    machine: TurnMachine
    volume: float = 1.0
    deadline: asyncio.TimerHandle | None = None
    wake_id: str | None = None  # the last wake (its correlation id is the turn id)
    wake_ts: float | None = None
    ahead: ActiveTurn | None = None  # work ahead on a speculative transcript
    requests: dict[str, int] = field(default_factory=dict)  # turn id -> LLM requests made
    prefilled: int = 0  # hash of the history the LLM was last asked to prefill

    def llm_id(self, turn_id: str) -> str:
        """The id of a turn's next LLM request: the turn id, then (a redo) a derived one."""
        n = self.requests.get(turn_id, 0)
        if n == 0 and len(self.requests) >= 16:
            self.requests.clear()
        self.requests[turn_id] = n + 1
        return turn_id if n == 0 else f"{turn_id}-r{n}"
