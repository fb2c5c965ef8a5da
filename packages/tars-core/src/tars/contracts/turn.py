"""Router turn payloads: text turns in, turn events and results out."""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload
from tars.contracts.llm import ChatMessage

TurnStage = Literal["idle", "awake", "listening", "thinking", "speaking", "follow_up"]


class TextTurn(Payload):
    """A typed (or injected) utterance handled exactly like a final transcript."""

    text: str
    speak: bool = True
    history: list[ChatMessage] | None = None
    """The caller's own conversation before ``text`` (an HTTP chat client's messages): used as
    the LLM history instead of the site's, and the turn is not added to the site's history.
    None: the site's conversation, as for a spoken turn."""


class TurnEvent(Payload):
    """A turn started, changed stage, or ended; ``offset_ms`` is from the turn start."""

    kind: Literal["started", "stage", "ended"]
    stage: TurnStage
    offset_ms: float = 0.0
    reason: str | None = None
    stages: dict[str, float] = {}
    """Wall-clock stamps (POSIX s) of the turn's stages known so far (see TurnResult.stages)."""


class TurnResult(Payload):
    """What a turn produced: the reply and how it was made."""

    text: str
    reply: str
    path: Literal["intent", "llm", "error"]
    intent: str | None = None
    tools: list[str] = []
    first_token_ms: float | None = None
    spoken: bool = False
    reason: str = "done"
    stages: dict[str, float] = {}
    """Wall-clock stamps (POSIX s) by stage, whichever applied: wake, speech_start, speech_end,
    endpoint, final, intent, first_token, first_sentence, first_audio, first_sample, end."""
