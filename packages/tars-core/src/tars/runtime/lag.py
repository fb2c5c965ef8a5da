"""Event-loop lag monitor: how late the loop wakes a sleeper, as p50/p99/max."""

from __future__ import annotations

import asyncio
import time
from collections import deque

import numpy as np


class LagMonitor:
    """Samples loop lag every ``interval_s``; keeps the last ``window`` samples (ms)."""

    def __init__(self, interval_s: float = 0.05, window: int = 2400) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lag-monitor")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval_s)
            late = time.perf_counter() - start - self.interval_s
            self.samples.append(max(0.0, late) * 1000.0)

    def stats(self) -> dict[str, float]:
        if not self.samples:
            return {"lag_p50_ms": 0.0, "lag_p99_ms": 0.0, "lag_max_ms": 0.0, "samples": 0}
        arr = np.fromiter(self.samples, dtype=np.float64)
        return {
            "lag_p50_ms": float(np.percentile(arr, 50)),
            "lag_p99_ms": float(np.percentile(arr, 99)),
            "lag_max_ms": float(arr.max()),
            "samples": float(arr.size),
        }

    def reset(self) -> None:
        self.samples.clear()
