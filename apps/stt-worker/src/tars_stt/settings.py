"""Settings of the stt worker: section ``[stt]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from tars.runtime.settings import CoreSettings
from tars_stt.aec import AecSettings
from tars_stt.duplex import DuplexSettings
from tars_stt.endpointer import EndpointerSettings
from tars_stt.filters import EchoSettings
from tars_stt.transcriber import WhisperSettings


class Settings(CoreSettings):
    """Where audio comes from, the engine's tables and the worker's own knobs.

    The engine's knobs are declared once, in its modules: tables ``[stt.whisper]``
    (WhisperSettings), ``[stt.endpointer]`` (EndpointerSettings), ``[stt.duplex]``
    (DuplexSettings), ``[stt.aec]`` (AecSettings) and ``[stt.echo]`` (EchoSettings); env
    ``TARS_WHISPER__BEAM_SIZE``... An unknown key in ``[stt]`` is an error.
    """

    model_config = SettingsConfigDict(extra="forbid")
    section: ClassVar[str] = "stt"

    audio_source: str = Field(
        default="mic",
        description='"mic" (own the sound card, publish its frames), "mqtt" (listen to '
        'the MQTT audio topic only) or "wav:<path>" (play a file as this site\'s microphone)',
    )
    audio_device: str | None = Field(default=None, description="input device name or index")
    whisper: WhisperSettings = WhisperSettings()
    endpointer: EndpointerSettings = EndpointerSettings()
    duplex: DuplexSettings = DuplexSettings()
    aec: AecSettings = AecSettings()
    echo: EchoSettings = EchoSettings()
    endpoint: Literal["silence", "transcript"] = Field(
        default="transcript", description='"silence": the utterance ends after '
        'endpointer.end_silence_s; "transcript": a complete speculative transcript (Whisper '
        "starts after endpointer.pause_s) ends it after complete_silence_s, a plausible one "
        "(no sentence end, no trailing word) after plausible_silence_s, otherwise it ends "
        "after max_end_silence_s",
    )
    complete_silence_s: float = Field(default=0.2, gt=0.0)
    plausible_silence_s: float = Field(default=0.6, gt=0.0)
    max_end_silence_s: float = Field(default=1.2, gt=0.0)
    max_clock_gap_s: float = Field(
        default=0.5, gt=0.0, description="a jump in a site's audio_time_s restarts its endpointer"
    )
    tts_service: str = Field(default="tts", description="whose status ends speaking state")
    wake_window_s: float = Field(
        default=8.0, gt=0.0, description="after a wake word, the next utterance starting "
        "within this long carries the wake's correlation id",
    )
    wake_ring_s: float = Field(
        default=4.0, ge=0.0, description="recent audio kept per site, replayed from the wake "
        "word's end so a command said in the same breath is whole",
    )
    wake_cut_margin_s: float = Field(
        default=0.25, ge=0.0, le=1.0, description="the command starts at the pause after the "
        "wake word; with no pause, this long before the detector's wake end",
    )
    max_streams: int = Field(default=64, ge=1, description="audio streams (sites, requests) kept")
    stream_idle_s: float = Field(default=120.0, gt=0.0, description="an idle stream is forgotten")

    @field_validator("audio_source")
    @classmethod
    def _check_source(cls, value: str) -> str:
        if value in ("mic", "mqtt") or (value.startswith("wav:") and len(value) > 4):
            return value
        raise ValueError('must be "mic", "mqtt" or "wav:<path>"')

    @field_validator("audio_device")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    def endpointing(self) -> EndpointerSettings:
        """The endpointer's settings: with ``endpoint = "transcript"`` (and speculation on), the
        silence that ends an utterance without a complete transcript is max_end_silence_s."""
        if self.endpoint == "transcript" and self.endpointer.pause_s:
            return self.endpointer.model_copy(update={"end_silence_s": self.max_end_silence_s})
        return self.endpointer

    def cancels_echo(self) -> bool:
        """Whether the local microphone is echo-cancelled (``aec.enabled`` or duplex "aec")."""
        return self.aec.enabled or self.duplex.mode == "aec"
