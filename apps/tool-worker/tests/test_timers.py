"""Timers: persisted in SQLite, fired by the async scheduler, survive a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tars.runtime.clock import ManualClock
from tars_tools.errors import ToolArgumentError, ToolExecutionError
from tars_tools.timers import (
    FiredTimer,
    TimerScheduler,
    describe_delay,
    next_occurrence,
)
from tars_tools.timerstore import TimerKind, TimerStatus, TimerStore


class Recorder:
    def __init__(self) -> None:
        self.fired: list[FiredTimer] = []
        self.event = asyncio.Event()

    async def __call__(self, fired: FiredTimer) -> None:
        self.fired.append(fired)
        self.event.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.fired) < count:
                self.event.clear()
                await self.event.wait()


async def test_timer_fires_on_time(tmp_path: Path) -> None:
    seen = Recorder()
    scheduler = TimerScheduler(TimerStore(tmp_path / "t.db"), seen, max_sleep_s=0.05)
    await scheduler.start()
    loop = asyncio.get_running_loop()
    started = loop.time()
    timer = await scheduler.set_timer(0.3, "tea")
    await seen.wait_for(1)
    elapsed = loop.time() - started
    await scheduler.stop()
    assert seen.fired[0].timer.id == timer.id and seen.fired[0].timer.label == "tea"
    assert 0.25 <= elapsed < 2.0
    assert seen.fired[0].note is None


async def test_timers_survive_a_restart_and_fire(tmp_path: Path) -> None:
    path = tmp_path / "timers.db"
    first = Recorder()
    scheduler = TimerScheduler(TimerStore(path), first, max_sleep_s=0.05)
    await scheduler.start()
    short = await scheduler.set_timer(0.4, "eggs")
    long = await scheduler.set_timer(3600, "roast")
    cancelled = await scheduler.set_timer(0.2, "nope")
    await scheduler.cancel(cancelled.id)
    await scheduler.stop()  # the worker goes down before "eggs" is due
    assert first.fired == []

    second = Recorder()
    restarted = TimerScheduler(TimerStore(path), second, max_sleep_s=0.05)
    assert await restarted.start() == []
    assert [t.id for t in await restarted.pending()] == [short.id, long.id]
    await second.wait_for(1)
    assert [f.timer.id for f in second.fired] == [short.id]
    assert [t.id for t in await restarted.pending()] == [long.id]
    await restarted.stop()
    store = TimerStore(path)
    statuses = {t.id: t.status for t in store.with_status(TimerStatus.FIRED)}
    statuses |= {t.id: t.status for t in store.with_status(TimerStatus.CANCELLED)}
    assert statuses == {short.id: TimerStatus.FIRED, cancelled.id: TimerStatus.CANCELLED}
    store.close()


async def test_overdue_timers_fire_late_with_a_note_or_are_dropped(tmp_path: Path) -> None:
    path, clock = tmp_path / "t.db", ManualClock()
    scheduler = TimerScheduler(TimerStore(path), Recorder(), clock=clock)
    await scheduler.start()
    recent = await scheduler.set_timer(60, "pizza")
    ancient = await scheduler.set_timer(600, "laundry")
    await scheduler.stop()

    clock.advance(2 * 3600 + 60 + 720)  # down for hours: pizza is 2h12m late, laundry 2h3m
    seen = Recorder()
    restarted = TimerScheduler(TimerStore(path), seen, clock=clock, late_grace_s=3 * 3600 - 60)
    assert await restarted.start() == []
    await seen.wait_for(2)
    await restarted.stop()
    notes = {f.timer.label: f.note for f in seen.fired}
    assert notes == {"pizza": "This timer went off 2 hours late.",
                     "laundry": "This timer went off 2 hours late."}
    assert seen.fired[0].late_by_s == pytest.approx(2 * 3600 + 720)
    del recent, ancient

    dropped_path = tmp_path / "d.db"
    scheduler = TimerScheduler(TimerStore(dropped_path), Recorder(), clock=clock)
    await scheduler.start()
    old = await scheduler.set_timer(60, "old")
    await scheduler.stop()
    clock.advance(86400)
    seen = Recorder()
    restarted = TimerScheduler(TimerStore(dropped_path), seen, clock=clock, late_grace_s=3600)
    missed = await restarted.start()
    await asyncio.sleep(0.1)
    await restarted.stop()
    assert [t.id for t in missed] == [old.id] and missed[0].status is TimerStatus.MISSED
    assert seen.fired == []


async def test_alarm_and_validation(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2030, 11, 25, 8, 0, tzinfo=UTC))
    scheduler = TimerScheduler(TimerStore(tmp_path / "a.db"), Recorder(), clock=clock)
    await scheduler.start()
    at = next_occurrence(7, 30, clock.now())
    assert at == datetime(2030, 11, 26, 7, 30, tzinfo=UTC)
    alarm = await scheduler.set_alarm(at, "wake up")
    assert alarm.kind is TimerKind.ALARM and scheduler.remaining_s(alarm) == 23.5 * 3600
    with pytest.raises(ToolArgumentError):
        await scheduler.set_alarm(datetime(2030, 11, 25, 7, 0, tzinfo=UTC))
    with pytest.raises(ToolArgumentError):
        await scheduler.set_timer(0)
    with pytest.raises(ToolExecutionError):
        await scheduler.cancel("missing")
    with pytest.raises(ToolExecutionError):
        await scheduler.cancel_label("no such label")
    assert [t.id for t in await scheduler.cancel_label("Wake Up")] == [alarm.id]
    await scheduler.stop()


@pytest.mark.parametrize(("seconds", "text"), [(1, "1 second"), (45, "45 seconds"),
                                               (60, "1 minute"), (150, "2 minutes"),
                                               (7200, "2 hours")])
def test_describe_delay(seconds: float, text: str) -> None:
    assert describe_delay(seconds) == text
