"""Duplex policy: whether to drop microphone audio while TTS speaks on the same site, or muted."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DuplexSettings(BaseModel):
    """Half duplex drops audio while TTS speaks (plus a tail); full duplex never does."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["half", "full"] = "half"
    tail_s: float = Field(default=0.3, ge=0.0, description="keep dropping after TTS ends")
    max_speaking_s: float = Field(
        default=120.0, gt=0.0, description="a lost 'ended' event stops dropping after this"
    )


@dataclass(slots=True)
class _SiteState:
    speaking_since: float | None = None
    ended_at: float | None = None
    muted: bool = False


class DuplexPolicy:
    """Tracks TTS and mute state per site; ``now`` is ``time.monotonic()`` unless given."""

    def __init__(self, settings: DuplexSettings | None = None) -> None:
        self.settings = settings or DuplexSettings()
        self._sites: dict[str, _SiteState] = {}

    def _site(self, site_id: str) -> _SiteState:
        return self._sites.setdefault(site_id, _SiteState())

    def tts_started(self, site_id: str, *, at: float | None = None) -> None:
        state = self._site(site_id)
        state.speaking_since = time.monotonic() if at is None else at
        state.ended_at = None

    def tts_ended(self, site_id: str, *, at: float | None = None) -> None:
        state = self._site(site_id)
        state.speaking_since = None
        state.ended_at = time.monotonic() if at is None else at

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
            return t - state.speaking_since < s.max_speaking_s
        return state.ended_at is not None and t - state.ended_at < s.tail_s

    def should_drop(self, site_id: str, *, now: float | None = None) -> bool:
        """Drop audio from ``site_id`` now: muted, or half duplex while TTS speaks (+ tail)."""
        if self.is_muted(site_id):
            return True
        return self.settings.mode == "half" and self.tts_speaking(site_id, now=now)
