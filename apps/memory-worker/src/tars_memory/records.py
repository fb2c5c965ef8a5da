"""Value types that go in and out of the memory store."""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = " \t\n.,;:!?\"'()[]{}"


def normalize_text(text: str) -> str:
    """Return the dedupe key of a text: NFKC, case-folded, single-spaced, no edge punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", folded).strip(_EDGE_PUNCT)


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A text to remember, with its provenance."""

    text: str
    role: str = "user"
    site: str = "default"
    time: float = field(default_factory=time.time)
    correlation_id: str | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """A stored memory as read back from the database."""

    id: int
    text: str
    role: str
    site: str
    time: float
    correlation_id: str | None
    source: str | None


@dataclass(frozen=True, slots=True)
class ScoredRecord:
    """A search result of the store: the record and its cosine similarity to the query
    (1 = identical). On the bus it travels as ``tars.contracts.memory.MemoryHit``."""

    record: MemoryRecord
    score: float


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    """Restricts a search or a deletion; None fields match everything.

    ``since``/``until`` bound ``time`` (inclusive, Unix seconds); ``contains`` is a
    case-insensitive substring match on the text (used by forget, also honoured by search).
    """

    site: str | None = None
    role: str | None = None
    since: float | None = None
    until: float | None = None
    contains: str | None = None
    roles: tuple[str, ...] | None = None
    """Any of these roles (with ``role``, both must hold)."""

    def is_empty(self) -> bool:
        """True when the filter matches every memory."""
        return all(
            v is None
            for v in (self.site, self.role, self.since, self.until, self.contains, self.roles)
        )


@dataclass(frozen=True, slots=True)
class AddResult:
    """Outcome of an ingest: ids of new rows and counts of what was skipped."""

    ids: tuple[int, ...]
    skipped_duplicate: int = 0
    skipped_short: int = 0


@dataclass(frozen=True, slots=True)
class OpenReport:
    """How the store found its index at start-up.

    ``index_state`` is one of ``"empty"``, ``"loaded"`` (manifest matched the database),
    ``"reconciled"`` (index loaded, then missing rows added / deleted rows removed),
    ``"rebuilt"`` (index rebuilt from the stored vectors) or ``"reembedded"`` (the model
    changed, every stored text was embedded again).
    """

    index_state: str
    count: int
    added: int = 0
    removed: int = 0
