"""Transcript filters: drop empty/noise transcripts, Whisper's silence hallucinations and TTS echo."""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz

_NON_WORD = re.compile(r"[^\w']+")
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+")

#: Phrases tiny Whisper models produce from silence, noise or breath (normalised form).
DEFAULT_HALLUCINATIONS: tuple[str, ...] = (
    "you",
    "thank you",
    "thank you very much",
    "thank you so much",
    "thanks",
    "thanks for watching",
    "thank you for watching",
    "thanks for watching and see you next time",
    "please subscribe",
    "like and subscribe",
    "subscribe to my channel",
    "bye",
    "bye bye",
    "so",
    "the",
    "i",
    "oh",
    "uh",
    "um",
    "hmm",
    "music",
    "applause",
    "silence",
    "blank audio",
    "subtitles by the amara org community",
    "transcription by castingwords",
    "see you next time",
    "see you in the next video",
)


def normalize(text: str) -> str:
    """Lower-case words only: drops bracketed cues like ``[BLANK_AUDIO]``, punctuation, case."""
    text = _BRACKETED.sub(" ", text.lower()).replace("’", "'")
    return " ".join(w.strip("'") for w in _NON_WORD.split(text) if w.strip("'"))


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a transcript was dropped."""

    filter: str
    reason: str


class TranscriptFilter(Protocol):
    """Decides whether a final transcript should be dropped; ``None`` keeps it."""

    name: str

    def check(self, text: str, *, site_id: str = "", now: float | None = None) -> Rejection | None:
        ...


class EmptyFilter:
    """Drops transcripts with no words (only punctuation, music notes or bracketed cues)."""

    name = "empty"

    def check(self, text: str, *, site_id: str = "", now: float | None = None) -> Rejection | None:
        if not normalize(text):
            return Rejection(self.name, f"no words in {text!r}")
        return None


class HallucinationFilter:
    """Drops transcripts that are, in full, a phrase Whisper invents on silence ("Thank you.")."""

    name = "hallucination"

    def __init__(self, phrases: tuple[str, ...] | list[str] = DEFAULT_HALLUCINATIONS) -> None:
        self.phrases = frozenset(normalize(p) for p in phrases)

    def check(self, text: str, *, site_id: str = "", now: float | None = None) -> Rejection | None:
        norm = normalize(text)
        if norm in self.phrases:
            return Rejection(self.name, f"known silence hallucination {text!r}")
        words = norm.split()
        # the same phrase looped ("thank you thank you thank you")
        for size in range(1, len(words) // 2 + 1):
            looped = len(words) % size == 0 and words == words[:size] * (len(words) // size)
            if looped and " ".join(words[:size]) in self.phrases:
                return Rejection(self.name, f"repeated hallucination {text!r}")
        return None


class EchoSettings(BaseModel):
    """Echo filter knobs (``[stt.echo]``): transcripts that repeat what TTS said are dropped."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: float = Field(default=8.0, gt=0.0, description="how long a spoken text counts")
    threshold: float = Field(default=80.0, ge=0.0, le=100.0, description="similarity 0..100")
    min_partial_words: int = Field(
        default=3, ge=1, description="a fragment needs this many words to count as echo"
    )
    max_entries: int = Field(default=32, ge=1)


class EchoFilter:
    """Drops a transcript that repeats (fuzzily) what TTS said on the same site recently.

    Call ``note_spoken`` when TTS speaks (at start and again at end: the window runs from the
    latest call). ``now`` is a ``time.monotonic()`` reading unless the caller uses its own clock.
    """

    name = "echo"

    def __init__(self, settings: EchoSettings | None = None) -> None:
        self.settings = settings or EchoSettings()
        self._spoken: deque[tuple[float, str, str]] = deque(maxlen=self.settings.max_entries)

    def note_spoken(self, text: str, *, site_id: str = "", at: float | None = None) -> None:
        norm = normalize(text)
        if norm:
            self._spoken.append((time.monotonic() if at is None else at, site_id, norm))

    def check(self, text: str, *, site_id: str = "", now: float | None = None) -> Rejection | None:
        norm = normalize(text)
        if not norm:
            return None
        t = time.monotonic() if now is None else now
        s = self.settings
        for at, site, spoken in reversed(self._spoken):
            if site != site_id or t - at > s.window_s or at - t > s.window_s:
                continue
            score = fuzz.ratio(norm, spoken)
            if score < s.threshold and len(norm.split()) >= s.min_partial_words:
                score = max(score, fuzz.partial_ratio(norm, spoken))
            if score >= s.threshold:
                return Rejection(self.name, f"echo of recent speech {spoken!r} ({score:.0f})")
        return None

    def clear(self) -> None:
        self._spoken.clear()


class FilterChain:
    """Runs filters in order; the first rejection wins."""

    def __init__(self, filters: list[TranscriptFilter]) -> None:
        self.filters = filters

    @classmethod
    def default(cls, echo: EchoFilter | None = None) -> FilterChain:
        return cls([EmptyFilter(), HallucinationFilter(), echo or EchoFilter()])

    def check(self, text: str, *, site_id: str = "", now: float | None = None) -> Rejection | None:
        for f in self.filters:
            rejection = f.check(text, site_id=site_id, now=now)
            if rejection is not None:
                return rejection
        return None
