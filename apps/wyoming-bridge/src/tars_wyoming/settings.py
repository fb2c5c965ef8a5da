"""Settings of the Wyoming bridge: section ``[wyoming]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tars.runtime.settings import CoreSettings


class Settings(CoreSettings):
    """Where the Wyoming servers listen and how long the bridge waits for the workers."""

    section: ClassVar[str] = "wyoming"

    enabled: bool = Field(default=False, description="`tars up` starts the bridge (or --with wyoming)")
    host: str = Field(default="127.0.0.1", min_length=1,
                      description="listen address; 0.0.0.0 lets Home Assistant on another machine in")
    asr_port: int = Field(default=10300, ge=0, le=65535, description="0 turns the server off")
    tts_port: int = Field(default=10200, ge=0, le=65535)
    wake_port: int = Field(default=10400, ge=0, le=65535)
    pipeline_port: int = Field(default=10700, ge=0, le=65535)
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)
    max_clients: int = Field(default=16, ge=1, description="open connections per server")
    max_stream_s: float = Field(default=120.0, gt=0.0, description="longest audio stream accepted")
    asr_settle_s: float = Field(default=1.5, gt=0.0,
                                description="after audio-stop, quiet audio waits this long for a transcript")
    asr_timeout_s: float = Field(default=30.0, gt=0.0)
    tts_timeout_s: float = Field(default=60.0, gt=0.0)
    wake_settle_s: float = Field(default=1.0, gt=0.0,
                                 description="after audio-stop, wait this long for a late detection")
