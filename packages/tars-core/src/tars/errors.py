"""The root of every tars exception (the whole tree is drawn in ``tars.runtime.errors``)."""

from __future__ import annotations


class TarsError(Exception):
    """Base of every error tars raises: catch this to catch any of them.

    It lives in this import-free module so that the lowest layers (``tars.contracts``,
    ``tars.audio``) can derive from it without importing the runtime.
    """
