"""Async timer and alarm scheduler over :class:`TimerStore`, surviving restarts.

Policy for timers that came due while the worker was down: on :meth:`TimerScheduler.start`,
a timer overdue by at most ``late_grace_s`` (default one hour) fires at once, and the
:class:`FiredTimer` carries ``late_by_s`` and a spoken ``note`` ("this went off 12 minutes
ago"); an older one is not announced (a day-old alarm is noise): it is marked ``missed`` and
returned by :meth:`TimerScheduler.start` so the service can log or list it. Firing is
at-least-once: the callback runs first and the row is marked fired after it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

from tars.runtime.clock import Clock, SystemClock
from tars.runtime.offload import ModelExecutor
from tars_tools.errors import ToolArgumentError, ToolExecutionError
from tars_tools.timerstore import Timer, TimerKind, TimerStatus, TimerStore

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FiredTimer:
    """A timer that went off; ``late_by_s`` > ``0`` when it fired after its due time."""

    timer: Timer
    fired_at: float
    late_by_s: float
    note: str | None = None


OnFire = Callable[[FiredTimer], Awaitable[None]]


def describe_delay(seconds: float) -> str:
    """``"12 minutes"``, ``"1 hour"``, ``"40 seconds"``."""
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size or unit == "second":
            count = max(1, round(seconds / size))
            return f"{count} {unit}{'s' if count != 1 else ''}"
    raise AssertionError("unreachable")


class TimerScheduler:
    """Sets, lists, cancels and fires timers; ``on_fire`` is awaited for each one that fires.

    Database work runs on one dedicated thread, never on the event loop. The loop sleeps
    until the next due time (at most ``max_sleep_s`` at a time, so clock jumps are noticed).
    """

    def __init__(self, store: TimerStore, on_fire: OnFire, *, clock: Clock | None = None,
                 late_grace_s: float = 3600.0, late_note_after_s: float = 5.0,
                 max_sleep_s: float = 1.0, max_duration_s: float = 7 * 86400.0) -> None:
        self._store = store
        self._on_fire = on_fire
        self.clock: Clock = clock or SystemClock()
        self.late_grace_s = late_grace_s
        self.late_note_after_s = late_note_after_s
        self.max_sleep_s = max_sleep_s
        self.max_duration_s = max_duration_s
        self._db = ModelExecutor("timers-db")
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> list[Timer]:
        """Deal with timers that came due while down, start the loop; returns the missed ones."""
        if self._task is not None:
            raise RuntimeError("scheduler already started")
        now = self.clock.time()
        missed: list[Timer] = []
        for timer in await self._run(self._store.due, now):
            if now - timer.due_at > self.late_grace_s:
                missed.append(await self._run(self._store.mark, timer, TimerStatus.MISSED, now))
                log.warning("timer %s (%s) missed by %.0f s: dropped", timer.id, timer.label,
                            now - timer.due_at)
        self._task = asyncio.create_task(self._loop(), name="timer-scheduler")
        return missed

    async def stop(self) -> None:
        """Stop the loop and close the database thread (pending timers stay stored)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._run(self._store.close)
        self._db.shutdown(wait=True)

    async def set_timer(self, duration_s: float, label: str = "", site: str = "") -> Timer:
        """A timer that fires ``duration_s`` from now; raises ToolArgumentError if out of range."""
        if not 0 < duration_s <= self.max_duration_s:
            raise ToolArgumentError(f"duration must be between 1 second and "
                                    f"{describe_delay(self.max_duration_s)}")
        now = self.clock.time()
        timer = await self._run(self._store.new, TimerKind.TIMER, label, now + duration_s, now,
                                duration_s, site)
        self._changed.set()
        return timer

    async def set_alarm(self, at: datetime, label: str = "", site: str = "") -> Timer:
        """An alarm at the aware datetime ``at``; raises ToolArgumentError if it is past."""
        if at.tzinfo is None:
            raise ToolArgumentError("alarm time needs a time zone")
        now = self.clock.time()
        if at.timestamp() <= now:
            raise ToolArgumentError("that time has already passed")
        timer = await self._run(self._store.new, TimerKind.ALARM, label, at.timestamp(), now,
                                None, site)
        self._changed.set()
        return timer

    async def pending(self, site: str | None = None) -> list[Timer]:
        """Pending timers, soonest first."""
        return await self._run(self._store.pending, site)

    async def cancel(self, timer_id: str) -> Timer:
        """Cancel a pending timer; raises ToolExecutionError when there is none with that id."""
        timer = await self._run(self._store.get, timer_id)
        if timer is None or timer.status is not TimerStatus.PENDING:
            raise ToolExecutionError(f"no pending timer with id {timer_id!r}")
        done = await self._run(self._store.mark, timer, TimerStatus.CANCELLED, self.clock.time())
        self._changed.set()
        return done

    async def cancel_label(self, label: str, site: str | None = None) -> list[Timer]:
        """Cancel every pending timer whose label matches (case-insensitively)."""
        wanted = label.strip().lower()
        out = [await self.cancel(t.id) for t in await self.pending(site)
               if t.label.strip().lower() == wanted]
        if not out:
            raise ToolExecutionError(f"no pending timer called {label!r}")
        return out

    def remaining_s(self, timer: Timer) -> float:
        """Seconds until ``timer`` is due (negative when overdue)."""
        return timer.due_at - self.clock.time()

    async def _loop(self) -> None:
        while True:
            self._changed.clear()
            now = self.clock.time()
            for timer in await self._run(self._store.due, now):
                await self._fire(timer, now)
            pending = await self._run(self._store.pending, None)
            wait = self.max_sleep_s
            if pending:
                wait = min(wait, max(0.0, pending[0].due_at - self.clock.time()))
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._changed.wait()

    async def _fire(self, timer: Timer, now: float) -> None:
        late = max(0.0, now - timer.due_at)
        note = None
        if late > self.late_note_after_s:
            note = f"This {timer.kind.value} went off {describe_delay(late)} late."
        fired = FiredTimer(timer, now, late, note)
        try:
            await self._on_fire(fired)
        except Exception:
            log.exception("timer callback failed for %s", timer.id)
        await self._run(self._store.mark, timer, TimerStatus.FIRED, now)

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._db.run(fn, *args, **kwargs)


def next_occurrence(hour: int, minute: int, now: datetime) -> datetime:
    """The next ``hour:minute`` after the aware ``now``, in ``now``'s time zone."""
    candidate = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= now:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour, minute=minute)
    return candidate
