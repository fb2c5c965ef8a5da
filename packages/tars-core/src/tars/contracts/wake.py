"""Wake-word payloads."""

from __future__ import annotations

from tars.contracts.audio import AudioPurpose
from tars.contracts.envelope import Payload


class WakeEvent(Payload):
    """The wake word (or a wake phrase in a transcript) was heard on a site."""

    model: str
    score: float
    audio_time_s: float = 0.0
    phrase: str | None = None
    command: str | None = None
    barge_in: bool = False
    purpose: AudioPurpose = "turn"
    """A "turn" wake opens a turn (its correlation id is the turn id); a "detection" wake
    answers a client that asked for wake word detection only: the router ignores it."""
    level_db: float | None = None
    """Level of the wake word on the site's microphone (loudest 50 ms, dBFS), when measured."""
    stood_down: list[str] = []
    """Other sites that heard the same wake word and lost the arbitration (no turn for them)."""
