"""Settings of the tts engine: the voice, text limits, phrase cache and playback pacing."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_VOICE = "en_US-joe-medium"


class VoiceSettings(BaseModel):
    """Which piper voice speaks, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        default=DEFAULT_VOICE,
        description="Bundled voice name (en_US-joe-medium) or a path to any piper .onnx voice",
    )
    config_path: Path | None = Field(
        default=None, description="Voice JSON config; default: the .onnx path + '.json'"
    )
    speaker: int | str | None = Field(
        default=None, description="Speaker id or name (multi-speaker voices only)"
    )
    length_scale: float | None = Field(
        default=None, gt=0.1, le=5.0, description="< 1 speaks faster, > 1 slower"
    )
    noise_scale: float | None = Field(default=None, ge=0.0, le=2.0)
    noise_w_scale: float | None = Field(default=None, ge=0.0, le=2.0)
    volume: float = Field(default=1.0, ge=0.0, le=4.0, description="Synthesis gain")
    threads: int = Field(
        default=0, ge=0, le=64, description="onnxruntime intra-op threads; 0 = its own choice"
    )
    warmup: bool = Field(default=True, description="Synthesize one word at load time")


class TextSettings(BaseModel):
    """How text is made speakable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_chars: int = Field(
        default=2000, ge=1, description="Longest cleaned text one request may carry"
    )
    url_style: Literal["domain", "a link"] = Field(
        default="domain", description="Speak a URL as its domain, or as the words 'a link'"
    )
    code_placeholder: str = Field(
        default="Code omitted.", description="Spoken in place of a code block"
    )
    max_sentence_chars: int = Field(
        default=240, ge=20, description="Longer sentences are split at clause boundaries"
    )


class CacheSettings(BaseModel):
    """The phrase cache: synthesized audio of short, repeated phrases."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_entries: int = Field(default=128, ge=0, description="0 turns the cache off")
    max_phrase_chars: int = Field(
        default=120, ge=1, description="Only sentences up to this length are cached"
    )


class PlayerSettings(BaseModel):
    """The speech queue: write granularity and streamed-reply gap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    block_ms: int = Field(
        default=40, ge=5, le=500, description="Audio is handed to the sink in blocks this long"
    )
    stream_gap_s: float = Field(
        default=15.0, gt=0, description="A streamed reply with no new part for this long ends"
    )


class TtsSettings(BaseModel):
    """Everything the tts engine is configured with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    voice: VoiceSettings = VoiceSettings()
    text: TextSettings = TextSettings()
    cache: CacheSettings = CacheSettings()
    player: PlayerSettings = PlayerSettings()


__all__ = [
    "DEFAULT_VOICE",
    "CacheSettings",
    "PlayerSettings",
    "TextSettings",
    "TtsSettings",
    "VoiceSettings",
]
