"""SQLite persistence of timers and alarms (synchronous; the scheduler runs it on one thread)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from tars_tools.errors import ToolExecutionError


class TimerKind(StrEnum):
    """A timer runs for a duration; an alarm rings at a clock time."""

    TIMER = "timer"
    ALARM = "alarm"


class TimerStatus(StrEnum):
    """Lifecycle of a timer row."""

    PENDING = "pending"
    FIRED = "fired"
    CANCELLED = "cancelled"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Timer:
    """One timer or alarm; times are POSIX seconds (UTC)."""

    id: str
    kind: TimerKind
    label: str
    due_at: float
    created_at: float
    duration_s: float | None = None
    site: str = ""
    status: TimerStatus = TimerStatus.PENDING
    fired_at: float | None = None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, label TEXT NOT NULL, due_at REAL NOT NULL,
    created_at REAL NOT NULL, duration_s REAL, site TEXT NOT NULL, status TEXT NOT NULL,
    fired_at REAL
);
CREATE INDEX IF NOT EXISTS timers_pending ON timers (status, due_at);
"""
_COLUMNS = "id, kind, label, due_at, created_at, duration_s, site, status, fired_at"


class TimerStore:
    """Timers in one SQLite file (``":memory:"`` for a throwaway store).

    Not thread-safe: use it from one thread (the scheduler gives it a dedicated one).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            _private_file(Path(self.path))
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a returned timer is on disk
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def new(self, kind: TimerKind, label: str, due_at: float, created_at: float,
            duration_s: float | None = None, site: str = "") -> Timer:
        """Insert and return a pending timer with a fresh id."""
        timer = Timer(uuid.uuid4().hex[:8], kind, label, due_at, created_at, duration_s, site)
        with _committing("the timer"):
            self._db.execute(f"INSERT INTO timers ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                             (timer.id, timer.kind.value, timer.label, timer.due_at,
                              timer.created_at, timer.duration_s, timer.site, timer.status.value,
                              None))
        return timer

    def get(self, timer_id: str) -> Timer | None:
        """The timer with this id, or None."""
        rows = self._select("WHERE id = ?", (timer_id,))
        return rows[0] if rows else None

    def pending(self, site: str | None = None) -> list[Timer]:
        """Pending timers (optionally of one site), soonest first."""
        if site is None:
            return self._select("WHERE status = 'pending' ORDER BY due_at", ())
        return self._select("WHERE status = 'pending' AND site = ? ORDER BY due_at", (site,))

    def due(self, now: float) -> list[Timer]:
        """Pending timers whose time has come, soonest first."""
        return self._select("WHERE status = 'pending' AND due_at <= ? ORDER BY due_at", (now,))

    def with_status(self, status: TimerStatus) -> list[Timer]:
        """Every timer in ``status``, soonest first."""
        return self._select("WHERE status = ? ORDER BY due_at", (status.value,))

    def mark(self, timer: Timer, status: TimerStatus, at: float | None = None) -> Timer:
        """Set the status (and ``fired_at``) of a pending timer; returns the updated row."""
        with _committing(f"the {status.value} state"):
            self._db.execute("UPDATE timers SET status = ?, fired_at = ? WHERE id = ?",
                             (status.value, at, timer.id))
        return replace(timer, status=status, fired_at=at)

    def _select(self, where: str, params: tuple[object, ...]) -> list[Timer]:
        cursor = self._db.execute(f"SELECT {_COLUMNS} FROM timers {where}", params)
        return [
            Timer(row[0], TimerKind(row[1]), row[2], row[3], row[4], row[5], row[6],
                  TimerStatus(row[7]), row[8])
            for row in cursor.fetchall()
        ]


class TimerStorageError(ToolExecutionError):
    """The timer database refused a write (read-only or full disk): nothing was stored."""


@contextlib.contextmanager
def _committing(what: str) -> Iterator[None]:
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise TimerStorageError(f"{what} was not stored: {exc}") from exc


def _private_file(path: Path) -> None:
    """The database file 0600 in a 0700 directory (SQLite's -wal/-shm follow the file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
