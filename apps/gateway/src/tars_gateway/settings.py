"""Settings of the gateway: section ``[gateway]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tars.runtime.settings import CoreSettings


class Settings(CoreSettings):
    """Where to listen, the bearer token, upload limits and how long to wait for workers."""

    section: ClassVar[str] = "gateway"

    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    api_token: str = Field(default="", description="bearer token; empty = read or create token_file")
    token_file: str = ".tars/run/gateway.token"
    max_upload_mb: float = Field(default=25.0, gt=0.0)
    max_audio_s: float = Field(default=600.0, gt=0.0)
    max_input_chars: int = Field(default=4096, gt=0)
    transcribe_timeout_s: float = Field(default=30.0, gt=0.0,
                                        description="plus the audio's own length")
    settle_s: float = Field(default=2.0, gt=0.0,
                            description="no more transcript this long after the audio ended: done")
    speech_timeout_s: float = Field(default=30.0, gt=0.0)
    chat_timeout_s: float = Field(default=120.0, gt=0.0)
    slots: int = Field(default=8, ge=1, le=256, description="concurrent transcriptions / chats")
    browser_site: str = "browser"
    temp_dir: str = ""
    console: bool = True
