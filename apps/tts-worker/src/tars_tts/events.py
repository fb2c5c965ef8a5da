"""What the speech queue is asked to do (SayRequest) and what it reports (speech events)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

EndReason = Literal["done", "stopped", "error", "expired"]


@dataclass(frozen=True, slots=True)
class SayRequest:
    """Speak ``text`` as (part of) the reply ``correlation_id``.

    ``streamed_part=True`` means more parts of this reply follow; the part that ends a
    streamed reply has ``streamed_part=False`` (its text may then be empty).
    ``expires_at`` is a wall-clock time (``time.time()``) after which it must not be spoken.
    """

    text: str
    correlation_id: str
    site_id: str = "default"
    streamed_part: bool = False
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class SpeakingStarted:
    """The first sample of a reply went to the sink at ``first_sample_at`` (wall clock)."""

    correlation_id: str
    site_id: str
    first_sample_at: float
    requested_at: float
    first_audio_at: float | None = None
    """When the reply's first audio was synthesized (wall clock)."""

    @property
    def latency_s(self) -> float:
        """From the say request to the first sample handed to the sink."""
        return self.first_sample_at - self.requested_at


@dataclass(frozen=True, slots=True)
class SentenceSpoken:
    """Sentence ``index`` of a reply has been handed to the sink completely."""

    correlation_id: str
    site_id: str
    index: int
    text: str
    audio_s: float


@dataclass(frozen=True, slots=True)
class SpeakingEnded:
    """A reply is over: spoken to the end, stopped, failed, or dropped as stale."""

    correlation_id: str
    site_id: str
    reason: EndReason
    sentences: int = 0
    audio_s: float = 0.0
    synth_s: float = 0.0
    error: str | None = None

    @property
    def rtf(self) -> float | None:
        """Synthesis time / audio time for this reply (None when nothing was synthesized)."""
        return self.synth_s / self.audio_s if self.audio_s > 0 else None


SpeechEvent = SpeakingStarted | SentenceSpoken | SpeakingEnded
EventHandler = Callable[[SpeechEvent], Awaitable[None]]

__all__ = [
    "EndReason",
    "EventHandler",
    "SayRequest",
    "SentenceSpoken",
    "SpeakingEnded",
    "SpeakingStarted",
    "SpeechEvent",
]
