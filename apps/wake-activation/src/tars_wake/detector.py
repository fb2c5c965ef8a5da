"""Wake-word detection with openWakeWord built-in models (pyopen-wakeword, TFLite, offline)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tars.audio import SAMPLE_RATE, AudioFormatError, AudioSource
from tars_wake.errors import WakeModelError, WakeNotLoadedError

log = logging.getLogger(__name__)

Int16Array = npt.NDArray[np.int16]

#: openWakeWord computes one score per 80 ms of audio.
CHUNK_SAMPLES = 1280


def builtin_models() -> list[str]:
    """Names of the wake models bundled with pyopen-wakeword (e.g. ``hey_jarvis``)."""
    from pyopen_wakeword import Model

    return [m.value for m in Model]


class WakeSettings(BaseModel):
    """Wake-word knobs (``[wake.detector]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[str, ...] = Field(
        default=("hey_jarvis",), min_length=1, description="openWakeWord built-ins (hey_jarvis, "
        "okay_nabu, hey_mycroft, alexa, hey_rhasspy) or paths of .tflite models")
    threshold: float = Field(default=0.5, gt=0.0, lt=1.0, description="score that is a detection")
    refractory_s: float = Field(
        default=2.0, ge=0.0, description="after a detection, that model stays quiet this long"
    )


@dataclass(frozen=True, slots=True)
class WakeDetection:
    """A wake word heard: which model, its score, and when (audio clock, end of the word)."""

    model: str
    score: float
    at_s: float


class WakeWordDetector(Protocol):
    """Fed 16 kHz mono int16 frames of any size; blocking, not thread-safe."""

    def load(self) -> None: ...

    def process(self, samples: Int16Array) -> list[WakeDetection]: ...

    def reset(self) -> None: ...


def _check(samples: Int16Array) -> Int16Array:
    arr = np.asarray(samples)
    if arr.dtype != np.int16 or arr.ndim != 1:
        raise AudioFormatError(f"expected 1-D int16 samples, got {arr.dtype} {arr.shape}")
    return arr


class WakeDetector:
    """openWakeWord over a shared feature front end; one score per 80 ms per model."""

    def __init__(self, settings: WakeSettings | None = None, *, origin_s: float = 0.0) -> None:
        self.settings = settings or WakeSettings()
        self._features: Any = None
        self._models: dict[str, Any] = {}
        self._pending = np.zeros(0, dtype=np.int16)
        self._origin = origin_s
        self._chunks = 0
        self._quiet_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._features is not None

    @property
    def clock_s(self) -> float:
        return self._origin + (self._chunks * CHUNK_SAMPLES + self._pending.size) / SAMPLE_RATE

    def load(self) -> None:
        """Load the feature models and every wake model now; raise WakeModelError."""
        with self._lock:
            if self._features is not None:
                return
            try:
                from pyopen_wakeword import OpenWakeWordFeatures
            except (ImportError, OSError) as exc:
                raise WakeModelError(f"pyopen-wakeword is not usable: {exc}") from exc
            models = {name: self._load_model(name) for name in self.settings.models}
            try:
                features = OpenWakeWordFeatures.from_builtin()
                # the front end starts with 8 s of silence queued: run it once now
                for _ in features.process_streaming(bytes(2 * CHUNK_SAMPLES)):
                    pass
            except (OSError, RuntimeError) as exc:
                raise WakeModelError(f"cannot load the openWakeWord front end: {exc}") from exc
            self._models = models
            self._features = features
            log.info("wake models loaded: %s", ", ".join(models))

    @staticmethod
    def _load_model(name: str) -> Any:
        from pyopen_wakeword import Model, OpenWakeWord

        try:
            if name in builtin_models():
                return OpenWakeWord.from_builtin(Model(name))
            if name.endswith(".tflite") and Path(name).is_file():
                return OpenWakeWord.from_model(name)
        except (OSError, RuntimeError) as exc:
            raise WakeModelError(f"cannot load wake model {name!r}: {exc}") from exc
        raise WakeModelError(
            f"unknown wake model {name!r}: use one of {', '.join(builtin_models())} "
            "or the path of a .tflite openWakeWord model"
        )

    def process(self, samples: Int16Array) -> list[WakeDetection]:
        """Consume audio of any length; return the detections it completed (blocking)."""
        arr = _check(samples)
        if self._features is None:
            raise WakeNotLoadedError("WakeDetector.load() must be called before process()")
        buf = np.concatenate([self._pending, arr]) if self._pending.size else arr
        whole = buf.size // CHUNK_SAMPLES * CHUNK_SAMPLES
        found: list[WakeDetection] = []
        with self._lock:
            for off in range(0, whole, CHUNK_SAMPLES):
                found += self._step(buf[off : off + CHUNK_SAMPLES])
        self._pending = buf[whole:].copy()
        return found

    def _step(self, chunk: Int16Array) -> list[WakeDetection]:
        self._chunks += 1
        now = self._origin + self._chunks * CHUNK_SAMPLES / SAMPLE_RATE
        found: list[WakeDetection] = []
        for emb in self._features.process_streaming(chunk.astype("<i2").tobytes()):
            for name, model in self._models.items():
                for prob in model.process_streaming(emb):
                    if prob >= self.settings.threshold and now >= self._quiet_until.get(name, 0):
                        found.append(WakeDetection(name, float(prob), now))
                        self._quiet_until[name] = now + self.settings.refractory_s
        return found

    def reset(self) -> None:
        """Forget buffered audio and model state (the audio clock keeps running)."""
        with self._lock:
            self._origin += self._pending.size / SAMPLE_RATE
            self._pending = np.zeros(0, dtype=np.int16)
            for model in self._models.values():
                model.reset()

    def restart(self, origin_s: float) -> None:
        """A new stream (or a jump in its clock): forget everything, restart at ``origin_s``."""
        self.reset()
        with self._lock:
            self._origin, self._chunks = origin_s, 0
            self._quiet_until.clear()

    def skip(self, n_samples: int) -> None:
        """Audio that was not fed (muted, dropped): advance the clock over it and reset."""
        self.reset()
        self._origin += n_samples / SAMPLE_RATE

    async def detections(
        self, source: AudioSource, *, executor: Executor | None = None
    ) -> AsyncIterator[WakeDetection]:
        """Run ``process`` on every frame of ``source`` in ``executor`` (one thread is right)."""
        loop = asyncio.get_running_loop()
        async for frame in source.frames():
            for hit in await loop.run_in_executor(executor, self.process, frame):
                yield hit

    def describe(self) -> dict[str, Any]:
        return {
            "engine": "openWakeWord (pyopen-wakeword)",
            "models": list(self.settings.models),
            "available": builtin_models(),
            "threshold": self.settings.threshold,
            "refractory_s": self.settings.refractory_s,
            "loaded": self.loaded,
        }
