"""The workers' heartbeats during a benchmark: RSS over time, event-loop lag, pids."""

from __future__ import annotations

import time
from typing import Any

from tars.contracts import topics as T
from tars.contracts.health import Heartbeat
from tars.runtime.service import Inbound, Service

LAG_P99_GOAL_MS = 5.0
"""Every worker's event loop: p99 lag at most this while a benchmark runs."""


class Beats:
    """Keeps every heartbeat a Service hears, per worker, stamped with the seconds since start."""

    def __init__(self, service: Service) -> None:
        self.t0 = time.monotonic()
        self.seen: dict[str, list[tuple[float, Heartbeat]]] = {}
        service.handle(T.SYSTEM_HEARTBEAT, self._on_beat)

    async def _on_beat(self, msg: Inbound[Heartbeat]) -> None:
        self.seen.setdefault(msg.topic.rsplit("/", 1)[-1], []).append(
            (time.monotonic() - self.t0, msg.payload))

    def since(self, t: float = 0.0) -> dict[str, list[tuple[float, Heartbeat]]]:
        """The heartbeats at or after ``t`` seconds, per worker that sent any."""
        kept = {name: [(s, b) for s, b in beats if s >= t] for name, beats in self.seen.items()}
        return {name: beats for name, beats in kept.items() if beats}

    def now(self) -> float:
        """Seconds since start, on the clock of the stamps."""
        return time.monotonic() - self.t0

    def heard_after(self, t: float, names: list[str]) -> bool:
        """Every one of ``names`` has sent a heartbeat at or after ``t``."""
        fresh = self.since(t)
        return all(name in fresh for name in names)

    def pid(self, name: str) -> int:
        """The worker's pid from its last heartbeat (0: not heard, or it sends none)."""
        beats = self.seen.get(name)
        return beats[-1][1].pid if beats else 0

    def rss_mb(self) -> dict[str, float]:
        """Each worker's last reported RSS."""
        return {name: round(beats[-1][1].rss_mb, 1) for name, beats in sorted(self.seen.items())}

    def rss_series(self) -> dict[str, list[tuple[float, float]]]:
        """(seconds, MB) per worker, in the order they came."""
        return {name: [(s, b.rss_mb) for s, b in beats] for name, beats in sorted(self.seen.items())}

    def loop_lag(self, since_s: float = 0.0) -> dict[str, Any]:
        """The worst p99 and max loop lag each worker reported after ``since_s`` (its heartbeat
        covers the window before it), and whether every worker met the goal."""
        worst = {name: {"lag_p99_ms": round(max(b.lag_p99_ms for _, b in beats), 2),
                        "lag_max_ms": round(max(b.lag_max_ms for _, b in beats), 2)}
                 for name, beats in sorted(self.since(since_s).items())}
        return {"per_worker": worst,
                "worst_p99_ms": max((w["lag_p99_ms"] for w in worst.values()), default=None),
                "goal_p99_ms": LAG_P99_GOAL_MS,
                "met": all(w["lag_p99_ms"] <= LAG_P99_GOAL_MS for w in worst.values())}
