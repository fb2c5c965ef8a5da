"""Health payloads: retained status (with a last will), heartbeat, retained info."""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload


class Status(Payload):
    state: Literal["online", "offline", "starting"]
    instance: str
    reason: str | None = None


class Heartbeat(Payload):
    """Every ``heartbeat_s``: uptime, and the event loop's lag since the previous heartbeat."""

    uptime_s: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    handled: int
    errors: int
    in_flight: int
    rss_mb: float = 0.0
    pid: int = 0


class Info(Payload):
    service: str
    instance: str
    version: str
    models: dict[str, str] = {}
    capabilities: list[str] = []
