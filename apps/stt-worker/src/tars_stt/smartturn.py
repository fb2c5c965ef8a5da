"""Smart Turn v3: how likely a turn is over, from the sound of its last 8 s (ONNX, CPU)."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE
from tars.runtime import ConfigError, ModelExecutor
from tars_stt.errors import ModelLoadError, ModelNotLoadedError
from tars_stt.transcriber import check_samples

if TYPE_CHECKING:
    from tars_stt.settings import Settings

WINDOW_S = 8
"""The model hears the last 8 s of the turn; a shorter turn is padded with silence before it."""
BUNDLED = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")
"""Where the pipecat-ai wheel (BSD-2) keeps the model, under its package directory."""
PACKAGE = "pipecat-ai==1.14.0"

Int16Array = npt.NDArray[np.int16]


def bundled_model_path() -> Path:
    """The ONNX file inside the installed pipecat-ai package (found, never imported)."""
    spec = importlib.util.find_spec("pipecat")  # a top-level spec does not run the package
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    if not roots:
        raise ModelLoadError(f"Smart Turn needs {PACKAGE} (pip install --no-deps {PACKAGE}) "
                             "or [stt.endpointer] smart_turn_model = <path to an .onnx file>")
    for root in roots:
        path = Path(root).joinpath(*BUNDLED)
        if path.is_file():
            return path
    raise ModelLoadError(f"Smart Turn model not found in {roots[0]}: {'/'.join(BUNDLED)} "
                         f"(is pipecat-ai {PACKAGE.split('==')[1]} installed?)")


class SmartTurn:
    """``probability(samples)`` that a turn has ended; blocking (~50 ms on one thread): call it
    in the worker's executor. ``load()`` first (also blocking)."""

    def __init__(self, model_path: str | Path | None = None, *, threads: int = 1) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.threads = threads
        self._session: Any = None
        self._input = "input_features"
        self._features: Any = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def load(self) -> None:
        """Open the ONNX session (one intra-op thread by default); ModelLoadError if absent."""
        if self._session is not None:
            return
        path = self.model_path or bundled_model_path()
        if not path.is_file():
            raise ModelLoadError(f"Smart Turn model not found: {path}")
        import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]
        from faster_whisper.feature_extractor import (  # type: ignore[import-untyped,unused-ignore]
            FeatureExtractor,
        )

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            session = ort.InferenceSession(str(path), sess_options=options,
                                           providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"cannot load Smart Turn model {path}: {exc}") from exc
        self._input = session.get_inputs()[0].name
        self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_S)
        self._session = session

    def features(self, samples: Int16Array) -> npt.NDArray[np.float32]:
        """Whisper log-mel (1, 80, 800) of the last 8 s, left-padded with silence, the waveform
        normalised to zero mean and unit variance first (as the model was trained)."""
        if self._features is None:
            raise ModelNotLoadedError("SmartTurn.load() must be called first")
        arr = check_samples(samples)
        n = WINDOW_S * SAMPLE_RATE
        audio = np.zeros(n, dtype=np.float32)
        tail = arr[-n:].astype(np.float32) / 32768.0
        audio[n - tail.size :] = tail
        audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
        mel = self._features(audio, padding=0)
        return np.asarray(mel, dtype=np.float32)[np.newaxis]

    def probability(self, samples: Int16Array) -> float:
        """End-of-turn probability of 16 kHz mono int16 ``samples`` (the turn so far)."""
        if self._session is None:
            raise ModelNotLoadedError("SmartTurn.load() must be called first")
        feats = self.features(samples)
        with self._lock:  # one session, one run at a time
            out = self._session.run(None, {self._input: feats})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def describe(self) -> dict[str, Any]:
        return {"engine": "onnxruntime", "model": (self.model_path or Path(*BUNDLED)).name}


async def open_smart_turn(settings: Settings, executor: ModelExecutor) -> SmartTurn | None:
    """Smart Turn, loaded in ``executor``, when ``[stt.endpointer] semantic`` uses it (and the
    transcript endpoints); a missing model stops the worker with one line (ConfigError)."""
    s = settings.endpointer
    if s.semantic == "completeness" or settings.endpoint != "transcript" or not s.pause_s:
        return None
    turn = SmartTurn(s.smart_turn_model or None)
    try:
        await executor.run(turn.load)
    except ModelLoadError as exc:
        raise ConfigError(f"stt.endpointer.semantic = {s.semantic!r}: {exc}") from exc
    return turn
