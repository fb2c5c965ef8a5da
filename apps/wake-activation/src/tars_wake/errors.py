"""Errors raised by the wake engine, all under ``WakeError`` (a ``TarsError``).

The tree of every tars error is drawn in ``tars.runtime.errors``. Bad audio raises
``tars.audio.AudioFormatError`` (re-exported here).
"""

from __future__ import annotations

from tars.audio import AudioFormatError
from tars.errors import TarsError


class WakeError(TarsError):
    """Base class of every error the wake engine raises itself."""


class WakeModelError(WakeError):
    """A wake model could not be found or loaded."""


class WakeNotLoadedError(WakeError):
    """``process()`` came before ``load()``."""


__all__ = ["AudioFormatError", "WakeError", "WakeModelError", "WakeNotLoadedError"]
