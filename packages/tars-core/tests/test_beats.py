"""Beats: the workers' heartbeats as a benchmark reads them (RSS, loop lag, pids)."""

from __future__ import annotations

import asyncio
import time

from tars.bench.beats import LAG_P99_GOAL_MS, Beats
from tars.contracts import topics as T
from tars.contracts.health import Heartbeat
from tars.runtime import InMemoryBroker, InMemoryBus, Service


def beat(rss: float, p99: float, pid: int = 0) -> Heartbeat:
    return Heartbeat(uptime_s=1.0, lag_p50_ms=0.1, lag_p99_ms=p99, lag_max_ms=p99 * 2, handled=0,
                     errors=0, in_flight=0, rss_mb=rss, pid=pid)


async def _until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not heard in time"
        await asyncio.sleep(0.01)


async def test_beats_of_two_workers_give_rss_lag_and_pids() -> None:
    broker = InMemoryBroker()
    bench = Service("bench", InMemoryBus(broker, "bench"), announce=False)
    stt = Service("stt", InMemoryBus(broker, "stt"), announce=False)
    llm = Service("llm", InMemoryBus(broker, "llm"), announce=False)
    beats = Beats(bench)
    for s in (bench, stt, llm):
        await s.start()
    try:
        await stt.publish(T.SYSTEM_HEARTBEAT, beat(170.0, 1.0, pid=11), params={"service": "stt"})
        mark = beats.now()
        await _until(lambda: "stt" in beats.seen)
        await llm.publish(T.SYSTEM_HEARTBEAT, beat(650.0, 3.0, pid=22), params={"service": "llm"})
        await stt.publish(T.SYSTEM_HEARTBEAT, beat(171.5, 7.5, pid=11), params={"service": "stt"})
        await _until(lambda: beats.heard_after(mark, ["stt", "llm"]) and len(beats.seen["stt"]) == 2)
    finally:
        for s in (llm, stt, bench):
            await s.stop()
    assert beats.rss_mb() == {"llm": 650.0, "stt": 171.5}
    assert [mb for _, mb in beats.rss_series()["stt"]] == [170.0, 171.5]
    assert (beats.pid("llm"), beats.pid("stt"), beats.pid("tts")) == (22, 11, 0)
    lag = beats.loop_lag()
    assert lag["per_worker"]["stt"] == {"lag_p99_ms": 7.5, "lag_max_ms": 15.0}
    assert lag["worst_p99_ms"] == 7.5 and lag["goal_p99_ms"] == LAG_P99_GOAL_MS
    assert lag["met"] is False  # stt's second beat is over the goal
    assert not beats.heard_after(beats.now() + 1.0, ["stt"])
