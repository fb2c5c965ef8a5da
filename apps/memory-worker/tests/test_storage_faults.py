"""Acknowledged means committed: a full data directory is reported in the ack, on
tars/system/error and in the status, never acked as stored; data files are private."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars.runtime.settings import load_settings
from tars_memory.service import build_with
from tars_memory.settings import Settings
from tars_memory.testing import HashingEmbedder, MemoryClient


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs of its own (needs the right to mount, as root in a container has)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk is full."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    return filler


async def start(broker: InMemoryBroker, folder: Path) -> Service:
    service = Service("memory", InMemoryBus(broker, client_id="memory-1"))
    settings = load_settings(Settings, data_dir=folder / "memory", character_file=folder / "x.toml",
                             min_score=0.1)
    await build_with(settings, service, HashingEmbedder(dim=64))
    await service.start()
    return service


async def test_a_full_disk_is_reported_never_acked(small_disk: Path) -> None:
    broker = InMemoryBroker()
    worker = await start(broker, small_disk)
    client = MemoryClient(Service("peer", InMemoryBus(broker)), timeout_s=5)
    statuses: list[Status] = []

    async def on_status(msg: Inbound[Status]) -> None:
        statuses.append(msg.payload)

    client.service.handle(T.SYSTEM_STATUS, on_status, topic=T.SYSTEM_STATUS.topic(service="memory"))
    await client.start()
    try:
        assert (await client.remember("the spare key is under the mat")).ids
        filler = fill(small_disk)
        ack = await client.remember("the wifi password is on the fridge " * 40)
        assert ack.error and "not stored" in ack.error and ack.ids == [], ack
        event = (await asyncio.wait_for(client.errors.get(), 5)).payload
        assert event.kind == "dependency" and event.reason.startswith("storage: ")
        assert event.service == "memory"
        for _ in range(50):
            if statuses and statuses[-1].reason:
                break
            await asyncio.sleep(0.05)
        assert statuses[-1].state == "online" and "storage" in (statuses[-1].reason or "")
        hits = (await client.recall("wifi password fridge", k=5, threshold=-1)).payload.hits
        assert all("wifi" not in h.text for h in hits)  # nothing half-stored

        filler.unlink()
        assert (await client.remember("the wifi password is on the fridge")).ids
        for _ in range(50):
            if statuses[-1].reason is None:
                break
            await asyncio.sleep(0.05)
        assert statuses[-1].reason is None  # writable again
    finally:
        await client.close()
        await worker.stop()


async def test_data_files_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    broker = InMemoryBroker()
    worker = await start(broker, tmp_path)
    client = MemoryClient(Service("peer", InMemoryBus(broker)), timeout_s=5)
    await client.start()
    try:
        assert (await client.remember("my bike is blue")).ids
    finally:
        await client.close()
        await worker.stop()
    folder = tmp_path / "memory"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"memory.sqlite3", "character.sqlite3", "index.hnsw"}
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o600 for p in files}
