"""The health file a container's health check reads: touched while online, gone at a restart."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tars.runtime import InMemoryBroker, InMemoryBus, Service
from tars.runtime.service import HEALTH_FILE_ENV
from tars.stack.healthcheck import file_health


async def test_online_service_keeps_its_health_file_fresh(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "health"
    path.write_text("from a previous run")
    os.utime(path, (0, 0))
    monkeypatch.setenv(HEALTH_FILE_ENV, str(path))
    service = Service("probe", InMemoryBus(InMemoryBroker()), heartbeat_s=0.05)
    await service.start()
    try:
        for _ in range(100):
            if path.exists() and time.time() - path.stat().st_mtime < 5:
                break
            await asyncio.sleep(0.02)
        assert file_health(path, "probe", 5.0) == 0
        first = path.stat().st_mtime_ns
        await asyncio.sleep(0.2)
        assert path.stat().st_mtime_ns > first  # every heartbeat that reached the bus touches it
    finally:
        await service.stop()


def test_missing_or_stale_file_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "health"
    assert file_health(path, "probe", 5.0) == 1
    path.touch()
    os.utime(path, (time.time() - 60, time.time() - 60))
    assert file_health(path, "probe", 5.0) == 1
