"""Errors raised by the wake engine.

Hierarchy::

    WakeError
    ├── WakeModelError        unknown model name, missing file, or the runtime failed to load it
    └── WakeNotLoadedError    process() called before load()

Bad audio raises ``tars.audio.AudioFormatError`` (re-exported here).
"""

from __future__ import annotations

from tars.audio import AudioFormatError


class WakeError(Exception):
    """Base class of every error the wake engine raises itself."""


class WakeModelError(WakeError):
    """A wake model could not be found or loaded."""


class WakeNotLoadedError(WakeError):
    """``process()`` came before ``load()``."""


__all__ = ["AudioFormatError", "WakeError", "WakeModelError", "WakeNotLoadedError"]
