"""Settings of the stt worker: section ``[stt]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from tars.runtime.settings import CoreSettings
from tars_stt.aec import AecSettings
from tars_stt.duplex import DuplexSettings
from tars_stt.endpointer import EndpointerSettings
from tars_stt.filters import EchoSettings
from tars_stt.transcriber import WhisperSettings


class Settings(CoreSettings):
    """Audio source, Whisper model, endpointing, duplex and echo knobs."""

    section: ClassVar[str] = "stt"

    audio_source: str = Field(
        default="mic",
        description='"mic" (own the sound card, publish its frames), "mqtt" (listen to '
        'the MQTT audio topic only) or "wav:<path>" (play a file as this site\'s microphone)',
    )
    audio_device: str | None = Field(default=None, description="input device name or index")
    model: str | None = None
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = "int8"
    beam_size: int = Field(default=1, ge=1, le=10)
    language: str | None = "en"
    cpu_threads: int = Field(default=0, ge=0)
    vad_aggressiveness: int = Field(default=2, ge=0, le=3)
    pre_roll_s: float = Field(default=0.3, ge=0.0)
    min_speech_s: float = Field(default=0.25, gt=0.0)
    end_silence_s: float = Field(default=0.5, gt=0.0)
    max_utterance_s: float = Field(default=15.0, gt=1.0)
    partial_interval_s: float = Field(default=1.5, ge=0.0)
    duplex_mode: Literal["half", "full", "aec"] = Field(
        default="half", description='"half": deaf while the site speaks; "full": always '
        'listening; "aec": always listening to the local microphone, echo-cancelled against '
        "what the speaker played (libspeexdsp; half duplex without it, and for other sites)",
    )
    aec: bool = Field(
        default=False, description="echo-cancel the local microphone (what stt hears and the "
        'frames it shares for the wake word) whatever the duplex mode; implied by "aec"')
    aec_filter_ms: int = Field(default=200, ge=50, le=1000, description="longest echo path")
    aec_lead_s: float = Field(
        default=0.04, ge=0.0, le=0.5, description="the speaker reference is read this much "
        "after the microphone's estimated capture time (margin for a late estimate)")
    aec_mic_delay_s: float = Field(default=0.0, ge=0.0, le=1.0,
                                   description="input latency the device does not report")
    aec_suppress: bool = Field(default=True, description="residual echo suppression (speex)")
    duplex_tail_s: float = Field(default=0.3, ge=0.0)
    echo_window_s: float = Field(default=8.0, gt=0.0)
    echo_threshold: float = Field(default=80.0, ge=0.0, le=100.0)
    max_clock_gap_s: float = Field(
        default=0.5, gt=0.0, description="a jump in a site's audio_time_s restarts its endpointer"
    )
    pause_s: float = Field(
        default=0.12, ge=0.0, description="silence after which Whisper starts on the utterance "
        "so far (transcribe while deciding); 0 turns speculation off",
    )
    endpoint: Literal["silence", "transcript"] = Field(
        default="transcript", description='"silence": the utterance ends after end_silence_s; '
        '"transcript": a complete speculative transcript ends it after complete_silence_s, '
        "otherwise it ends after max_end_silence_s",
    )
    complete_silence_s: float = Field(default=0.25, gt=0.0)
    max_end_silence_s: float = Field(default=1.2, gt=0.0)
    duplex_idle_s: float = Field(
        default=8.0, gt=0.0,
        description="a speaking site with no tts status for this long is listened to again",
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

    @field_validator("language", "model", "audio_device")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    def whisper(self) -> WhisperSettings:
        return WhisperSettings(
            model=self.model, device=self.device, compute_type=self.compute_type,
            beam_size=self.beam_size, language=self.language, cpu_threads=self.cpu_threads,
        )

    def endpointing(self) -> EndpointerSettings:
        return EndpointerSettings(
            vad_aggressiveness=self.vad_aggressiveness, pre_roll_s=self.pre_roll_s,
            min_speech_s=self.min_speech_s,
            max_utterance_s=self.max_utterance_s, partial_interval_s=self.partial_interval_s,
            pause_s=self.pause_s,
            end_silence_s=(self.max_end_silence_s if self.endpoint == "transcript" and self.pause_s
                           else self.end_silence_s),
        )

    def duplex(self) -> DuplexSettings:
        return DuplexSettings(mode=self.duplex_mode, tail_s=self.duplex_tail_s,
                              idle_s=self.duplex_idle_s)

    def aec_settings(self) -> AecSettings:
        return AecSettings(filter_ms=self.aec_filter_ms, lead_s=self.aec_lead_s,
                           mic_delay_s=self.aec_mic_delay_s, suppress=self.aec_suppress)

    def echo(self) -> EchoSettings:
        return EchoSettings(window_s=self.echo_window_s, threshold=self.echo_threshold)
