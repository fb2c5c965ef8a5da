"""Settings of the wake worker: section ``[wake]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tars.runtime.settings import CoreSettings
from tars_wake.detector import WakeSettings
from tars_wake.phrase import DEFAULT_PHRASES


class Settings(CoreSettings):
    """Wake models (table ``[wake.detector]``: WakeSettings, declared once in tars_wake.detector;
    env ``TARS_DETECTOR__THRESHOLD``...), phrase mode, sites and arbitration. An unknown key in
    ``[wake]`` is an error."""

    model_config = SettingsConfigDict(extra="forbid")
    section: ClassVar[str] = "wake"

    detector: WakeSettings = WakeSettings()
    phrase_mode: bool = Field(default=True, description="also wake on a phrase in stt/final")
    phrases: list[str] = Field(default_factory=lambda: list(DEFAULT_PHRASES))
    max_clock_gap_s: float = Field(default=0.5, gt=0.0)
    max_sites: int = Field(default=8, ge=1, le=256,
                           description="detectors loaded at most (one per site and purpose)")
    site_idle_s: float = Field(default=60.0, gt=0.0,
                               description="a site without audio this long frees its detector")
    sites: list[str] = Field(default_factory=list,
                             description="sites allowed to wake (empty: any, up to max_sites)")
    tts_service: str = Field(default="tts", description="whose status ends speaking state")
    arbitration_window_s: float = Field(
        default=0.3, ge=0.0, le=2.0,
        description="sites hearing one wake word within this window: only the best answers (0: off)")
    arbitration_level_weight: float = Field(
        default=0.25, ge=0.0, le=10.0,
        description="how much 10 dB of wake word level counts against the wake score")

