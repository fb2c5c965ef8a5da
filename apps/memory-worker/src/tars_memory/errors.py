"""Exceptions raised by the tars memory engine, all under ``MemoryEngineError`` (a ``TarsError``).

The tree of every tars error is drawn in ``tars.runtime.errors``.
"""

from __future__ import annotations

from tars.errors import TarsError


class MemoryEngineError(TarsError):
    """Base class of every error the memory engine raises."""


class EmbedderError(MemoryEngineError):
    """The embedding model could not be loaded or run."""


class StoreClosedError(MemoryEngineError):
    """An operation was attempted on a closed store."""


class DimensionMismatchError(MemoryEngineError):
    """Stored vectors were made by another model than the configured one."""

    def __init__(self, stored_model: str, stored_dim: int, model: str, dim: int) -> None:
        super().__init__(
            f"store holds {stored_dim}-d vectors of {stored_model!r} but the configured "
            f"embedder {model!r} makes {dim}-d vectors; set on_model_change='reembed' "
            "to re-embed the stored texts, or point the store at another path"
        )
        self.stored_model = stored_model
        self.stored_dim = stored_dim
        self.model = model
        self.dim = dim


class StorageError(MemoryEngineError):
    """A write was not committed: the disk is read-only, full or failing. Nothing was stored."""


class CharacterError(MemoryEngineError):
    """The character file or an update of the character is invalid, or could not be saved."""
