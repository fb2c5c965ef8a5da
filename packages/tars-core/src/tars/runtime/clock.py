"""One clock for every worker: the system clock, and a manual one for tests and simulations.

Everything that reads the time (answers, timers, alarms, timelines) takes a :class:`Clock`, so a
test that injects a :class:`ManualClock` controls every reading at once and never depends on the
date it runs on.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds for timeouts, POSIX seconds, and the aware local wall-clock time."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock; ``tz`` defaults to the machine's local time zone."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.now(self.tz) if self.tz is not None else datetime.now().astimezone()


class ManualClock:
    """A clock that only moves when told to (:meth:`advance`); ``now`` keeps ``start``'s zone."""

    def __init__(self, start: datetime | None = None, mono: float = 1000.0) -> None:
        self._wall = start or datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
        if self._wall.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._mono = mono

    def monotonic(self) -> float:
        return self._mono

    def time(self) -> float:
        return self._wall.timestamp()

    def now(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move every reading forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._mono += seconds
        self._wall += timedelta(seconds=seconds)
