"""Duplex policy: whether to drop microphone audio while TTS speaks on the same site, or muted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DuplexSettings(BaseModel):
    """``[stt.duplex]``: half duplex drops audio while TTS speaks (plus a tail); full never does.

    Speaking state never outlives the speaker: it ends with ``ended``, when the tts worker goes
    offline (its status or last will), or ``idle_s`` after the last sign of the reply
    (``started``, ``sentence_done``, ``resumed``), whichever comes first.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["half", "full", "aec"] = Field(
        default="half", description='"half": deaf while the site speaks; "full": always '
        'listening; "aec": always listening to the local microphone, echo-cancelled against '
        "what the speaker played (libspeexdsp; half duplex without it, and for other sites)",
    )
    tail_s: float = Field(default=0.3, ge=0.0, description="keep dropping after TTS ends")
    idle_s: float = Field(
        default=8.0, gt=0.0,
        description="no tts activity for this long on a speaking site: it is not speaking",
    )
    max_speaking_s: float = Field(
        default=120.0, gt=0.0, description="a reply never keeps a site deaf longer than this"
    )


@dataclass(slots=True)
class _SiteState:
    speaking_since: float | None = None
    last_activity: float = 0.0
    ended_at: float | None = None
    muted: bool = False


class DuplexPolicy:
    """Tracks TTS and mute state per site; ``now`` is ``time.monotonic()`` unless given."""

    def __init__(self, settings: DuplexSettings | None = None) -> None:
        self.settings = settings or DuplexSettings()
        self._sites: dict[str, _SiteState] = {}
        self.cancelled: set[str] = set()
        """Sites whose microphone audio is echo-cancelled (heard while TTS speaks in "aec")."""

    def _site(self, site_id: str) -> _SiteState:
        return self._sites.setdefault(site_id, _SiteState())

    def tts_started(self, site_id: str, *, at: float | None = None) -> None:
        state = self._site(site_id)
        state.speaking_since = state.last_activity = time.monotonic() if at is None else at
        state.ended_at = None

    def tts_activity(self, site_id: str, *, at: float | None = None) -> None:
        """A sign that the reply on ``site_id`` is still playing (a sentence done, resumed)."""
        state = self._sites.get(site_id)
        if state is not None and state.speaking_since is not None:
            state.last_activity = time.monotonic() if at is None else at

    def tts_ended(self, site_id: str, *, at: float | None = None) -> None:
        state = self._site(site_id)
        state.speaking_since = None
        state.ended_at = time.monotonic() if at is None else at

    def speaker_gone(self, *, at: float | None = None) -> list[str]:
        """The tts worker went away (offline, or a new instance): no site is speaking now.

        Returns the sites that were speaking."""
        t = time.monotonic() if at is None else at
        was = [site for site, st in self._sites.items() if st.speaking_since is not None]
        for site in was:
            self.tts_ended(site, at=t - self.settings.tail_s)  # no tail: nothing plays
        return was

    def mute(self, site_id: str) -> None:
        self._site(site_id).muted = True

    def unmute(self, site_id: str) -> None:
        self._site(site_id).muted = False

    def is_muted(self, site_id: str) -> bool:
        state = self._sites.get(site_id)
        return state is not None and state.muted

    def tts_speaking(self, site_id: str, *, now: float | None = None) -> bool:
        """TTS is speaking on the site now, or ended less than ``tail_s`` ago."""
        state = self._sites.get(site_id)
        if state is None:
            return False
        t = time.monotonic() if now is None else now
        s = self.settings
        if state.speaking_since is not None:
            return (t - state.speaking_since < s.max_speaking_s
                    and t - state.last_activity < s.idle_s)
        return state.ended_at is not None and t - state.ended_at < s.tail_s

    def should_drop(self, site_id: str, *, now: float | None = None) -> bool:
        """Drop audio from ``site_id`` now: muted, or half duplex while TTS speaks (+ tail)."""
        if self.is_muted(site_id):
            return True
        mode = self.settings.mode
        if mode == "full" or (mode == "aec" and site_id in self.cancelled):
            return False
        return self.tts_speaking(site_id, now=now)
