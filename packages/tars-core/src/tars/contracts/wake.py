"""Wake-word payloads."""

from __future__ import annotations

from tars.contracts.envelope import Payload


class WakeEvent(Payload):
    """The wake word (or a wake phrase in a transcript) was heard on a site."""

    model: str
    score: float
    audio_time_s: float = 0.0
    phrase: str | None = None
    command: str | None = None
    barge_in: bool = False
