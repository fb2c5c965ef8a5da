"""Utterance endpointing: turns a stream of 16 kHz frames into speech start / partial / end events."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tars.audio import SAMPLE_RATE
from tars_stt.transcriber import check_samples
from tars_stt.vad import VoiceActivityDetector, WebRtcVad

Int16Array = npt.NDArray[np.int16]


class EndpointerSettings(BaseModel):
    """Endpointing knobs (``[stt.endpointer]``); times are seconds of audio."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    frame_ms: Literal[10, 20, 30] = Field(default=30, description="VAD frame: 10, 20 or 30 ms")
    pre_roll_s: float = Field(default=0.3, ge=0.0, description="audio kept before speech start")
    min_speech_s: float = Field(default=0.25, gt=0.0, description="shorter blips are ignored")
    end_silence_s: float = Field(default=0.5, gt=0.0, description="silence that ends speech")
    max_utterance_s: float = Field(default=15.0, gt=1.0, description="longer speech is cut")
    partial_interval_s: float = Field(
        default=1.5, ge=0.0, description="partial-ready cadence during speech; 0 turns it off"
    )
    pause_s: float = Field(
        default=0.12, ge=0.0, description="silence in speech that may be its end: PauseStarted "
        "(transcribe while deciding); 0 turns it off",
    )
    semantic: Literal["completeness", "smart_turn", "both"] = Field(
        default="completeness", description='what ends a turn early at a pause (with stt.endpoint '
        '= "transcript"): "completeness" (the speculative transcript is a finished sentence), '
        '"smart_turn" (Smart Turn v3 hears the turn as over) or "both" (each says so)',
    )
    smart_turn_model: str = Field(
        default="", description="Smart Turn .onnx file; empty: the one in the pipecat-ai package",
    )
    smart_turn_threshold: float = Field(
        default=0.5, gt=0.0, lt=1.0, description="end-of-turn probability that counts as over",
    )


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """Speech confirmed (lasted ``min_speech_s``); ``start_s`` is when it began."""

    start_s: float


@dataclass(frozen=True, slots=True)
class PartialReady:
    """Speech is still going; ``samples`` hold the utterance so far (with pre-roll)."""

    start_s: float
    at_s: float
    samples: Int16Array = field(repr=False)


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    """One utterance: ``samples`` run from ``audio_start_s`` (pre-roll) to the end decision."""

    start_s: float
    end_s: float
    audio_start_s: float
    samples: Int16Array = field(repr=False)
    truncated: bool = False
    """True when ``max_utterance_s`` cut the utterance while speech went on."""

    @property
    def speech_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class PauseStarted:
    """Speech paused for ``pause_s``: ``samples`` are the utterance if it ended at ``end_s``
    (with the pause after it)."""

    start_s: float
    end_s: float
    samples: Int16Array = field(repr=False)


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """Speech came back after a PauseStarted: that pause was not the end."""

    at_s: float


EndpointEvent = SpeechStarted | PartialReady | PauseStarted | SpeechResumed | UtteranceEnded


class Endpointer:
    """Feed frames of any size; get events timed on the audio clock (seconds since ``origin_s``).

    Not thread-safe; cheap enough (~1 % of a core) to run on the event loop.
    """

    def __init__(
        self,
        settings: EndpointerSettings | None = None,
        *,
        vad: VoiceActivityDetector | None = None,
        origin_s: float = 0.0,
    ) -> None:
        self.settings = s = settings or EndpointerSettings()
        self._vad = vad or WebRtcVad(s.vad_aggressiveness, s.frame_ms)
        self._n = self._vad.frame_samples
        self._frame_s = self._n / SAMPLE_RATE
        self._start_frames = max(1, round(s.min_speech_s / self._frame_s))
        self._end_frames = max(1, round(s.end_silence_s / self._frame_s))
        self._pre_frames = round(s.pre_roll_s / self._frame_s)
        self._max_frames = int(s.max_utterance_s / self._frame_s + 1e-9)
        self._partial_frames = round(s.partial_interval_s / self._frame_s)
        self._pause_frames = round(s.pause_s / self._frame_s) if s.pause_s > 0 else 0
        self._origin = origin_s
        self._pending = np.zeros(0, dtype=np.int16)
        self._frames_seen = 0
        self._history: deque[tuple[Int16Array, bool]] = deque(
            maxlen=self._pre_frames + self._start_frames
        )
        self._reset_speech()

    def _reset_speech(self) -> None:
        self._in_speech = False
        self._utt: list[Int16Array] = []
        self._audio_start_frame = 0
        self._start_frame = 0
        self._last_voiced_frame = 0
        self._next_partial = 0
        self._paused = False

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def silence_s(self) -> float:
        """Silence since the last voiced frame of the utterance in flight (0 when none)."""
        if not self._in_speech:
            return 0.0
        return (self._frames_seen - 1 - self._last_voiced_frame) * self._frame_s

    def end_now(self) -> UtteranceEnded | None:
        """Decide the endpoint now (e.g. the transcript so far is a complete sentence)."""
        if not self._in_speech:
            return None
        return self._finish(self._last_voiced_frame + 1, truncated=False)

    @property
    def clock_s(self) -> float:
        """Audio-clock time of the end of the audio consumed so far."""
        return self._t(self._frames_seen) + self._pending.size / SAMPLE_RATE

    def _t(self, frame_index: int) -> float:
        return self._origin + frame_index * self._frame_s

    def feed(self, samples: Int16Array) -> list[EndpointEvent]:
        """Consume 16 kHz mono int16 audio of any length; return the events it completed."""
        arr = check_samples(samples)
        buf = np.concatenate([self._pending, arr]) if self._pending.size else arr
        whole = buf.size // self._n * self._n
        events: list[EndpointEvent] = []
        for off in range(0, whole, self._n):
            events.extend(self._step(buf[off : off + self._n]))
        self._pending = buf[whole:].copy()
        return events

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an utterance in progress (if it is long enough)."""
        self._drop_pending()
        if not self._in_speech:
            return []
        return [self._finish(self._last_voiced_frame + 1, truncated=False)]

    def reset(self) -> None:
        """Forget any audio in flight (e.g. when half-duplex starts dropping audio)."""
        self._drop_pending()
        self._history.clear()
        self._reset_speech()

    def skip(self, n_samples: int) -> None:
        """Forget audio in flight and advance the clock over ``n_samples`` that were not fed."""
        self.reset()
        self._origin += n_samples / SAMPLE_RATE

    def _drop_pending(self) -> None:
        self._origin += self._pending.size / SAMPLE_RATE  # keeps the clock continuous
        self._pending = np.zeros(0, dtype=np.int16)

    def _step(self, frame: Int16Array) -> list[EndpointEvent]:
        voiced = self._vad.is_speech(frame)
        idx = self._frames_seen
        self._frames_seen += 1
        if not self._in_speech:
            self._history.append((frame, voiced))
            return self._maybe_start(idx)
        self._utt.append(frame)
        events: list[EndpointEvent] = []
        if voiced:
            self._last_voiced_frame = idx
            if self._paused:
                self._paused = False
                events.append(SpeechResumed(self._t(idx)))
        elif self._pause_frames and not self._paused and \
                idx - self._last_voiced_frame == self._pause_frames:
            self._paused = True
            end = self._last_voiced_frame + 1
            # the pause itself too: a word's quiet end ("date") is below the VAD, and Whisper
            # hears it in the pause, as it does in the final's audio
            return [PauseStarted(self._t(self._start_frame), self._t(end), self._samples())]
        if idx - self._last_voiced_frame >= self._end_frames:
            return [self._finish(self._last_voiced_frame + 1, truncated=False)]
        if idx + 1 - self._audio_start_frame >= self._max_frames:
            return [self._finish(idx + 1, truncated=True)]
        if self._partial_frames and idx + 1 >= self._next_partial:
            self._next_partial += self._partial_frames
            events.append(PartialReady(self._t(self._start_frame), self._t(idx + 1),
                                       self._samples()))
        return events

    def _maybe_start(self, idx: int) -> list[EndpointEvent]:
        recent = list(self._history)[-self._start_frames :]
        needed = max(1, (self._start_frames * 3 + 3) // 4)  # 75 % voiced over min_speech_s
        if len(recent) < self._start_frames or sum(v for _, v in recent) < needed:
            return []
        first_voiced = next(i for i, (_, v) in enumerate(recent) if v)
        start = idx + 1 - len(recent) + first_voiced
        self._in_speech = True
        frames = [f for f, _ in self._history]
        keep = min(len(frames), idx + 1 - start + self._pre_frames)  # pre-roll before start
        self._utt = frames[len(frames) - keep :]
        self._audio_start_frame = idx + 1 - keep
        self._start_frame = start
        self._last_voiced_frame = idx
        self._next_partial = start + self._partial_frames
        self._history.clear()
        return [SpeechStarted(self._t(start))]

    def _samples(self) -> Int16Array:
        return np.concatenate(self._utt) if self._utt else np.zeros(0, dtype=np.int16)

    def _finish(self, end_frame: int, *, truncated: bool) -> UtteranceEnded:
        event = UtteranceEnded(
            start_s=self._t(self._start_frame),
            end_s=self._t(end_frame),
            audio_start_s=self._t(self._audio_start_frame),
            samples=self._samples(),
            truncated=truncated,
        )
        self._reset_speech()
        return event
