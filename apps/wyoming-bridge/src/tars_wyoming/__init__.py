"""tars as Wyoming services (ASR, TTS, wake word, pipeline): a client of the workers on the bus."""

from tars_wyoming.settings import Settings

__all__ = ["Settings"]
