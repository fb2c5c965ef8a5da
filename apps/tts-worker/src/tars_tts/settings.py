"""Settings of the tts worker: section ``[tts]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from tars.runtime.settings import CoreSettings
from tars_tts.config import CacheSettings, PlayerSettings, TextSettings, TtsSettings, VoiceSettings

SinkName = Literal["speaker", "wav", "mqtt"]


class Settings(CoreSettings):
    """Voice, text limits, cache and player (tables ``[tts.voice]`` ...) plus where audio goes."""

    section: ClassVar[str] = "tts"

    voice: VoiceSettings = VoiceSettings()
    text: TextSettings = TextSettings()
    cache: CacheSettings = CacheSettings()
    player: PlayerSettings = PlayerSettings()
    sink: Annotated[list[SinkName], NoDecode] = Field(
        default_factory=lambda: list[SinkName](["speaker"]),
        description='"speaker", "wav", "mqtt", or a list; env: comma separated',
    )
    speaker_device: str | None = Field(
        default=None, description="output device: a name (substring, e.g. \"USB\") or an index; "
        "default: the system's default output")
    speaker_rate: int | None = Field(default=None, ge=8_000, le=192_000,
                                     description="output stream rate; default: the device's own")
    speaker_latency_s: float = Field(default=0.06, ge=0.005, le=0.5,
                                     description="output latency asked of the device")
    speaker_ref: bool = Field(default=True, description="publish what the speaker played as "
                              "the site's echo reference (topic AUDIO_REF)")
    speaker_ref_delay_s: float = Field(
        default=0.0, ge=0.0, le=1.0, description="output delay the device does not report, added "
        "to the reference's DAC time (PulseAudio via ALSA: about 30 ms)")
    earcon: bool = Field(default=True, description="a short chime on the speaker when the wake "
                         "word opens a turn")
    data_dir: Path = Field(default=Path(".tars/data"), description="where tars keeps its data")
    wav_dir: Path | None = Field(default=None, description="WAV replies; default <data_dir>/tts")
    wav_pace: float = Field(
        default=0.0, ge=0.0, le=4.0, description="WAV sink pace: 0 = as fast as possible, 1 = real time"
    )
    satellite_rate: int = Field(default=16_000, ge=8_000, le=48_000,
                                description="sample rate of tars/audio/{site}/out frames")
    mqtt_lead_s: float = Field(default=0.06, ge=0.0, le=5.0,
                               description="how far MQTT audio runs ahead of real time (the "
                               "receiver's jitter buffer)")

    @field_validator("sink", mode="before")
    @classmethod
    def _split_sinks(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sink")
    @classmethod
    def _some_sink(cls, value: list[SinkName]) -> list[SinkName]:
        if not value:
            raise ValueError('name at least one sink: "speaker", "wav" or "mqtt"')
        return list(dict.fromkeys(value))

    def wav_folder(self) -> Path:
        return (self.wav_dir or self.data_dir / "tts").expanduser().absolute()

    def engine(self) -> TtsSettings:
        return TtsSettings(voice=self.voice, text=self.text, cache=self.cache, player=self.player)
