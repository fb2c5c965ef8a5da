"""kill -9 during a burst of ingests never corrupts the store nor loses a committed memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tars_memory import HnswMemoryStore, StoreConfig
from tars_memory.db import MemoryDB
from tars_memory.testing import HashingEmbedder

HELPER = Path(__file__).with_name("crash_ingest.py")


def burst_and_kill(path: Path, offset: int, batches: int) -> list[int]:
    """Run the ingest helper, SIGKILL it after `batches` committed batches; return their ids."""
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(path), str(offset)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    committed: list[int] = []
    try:
        for _ in range(batches):
            line = proc.stdout.readline()
            assert line, "ingest helper exited early"
            committed.extend(int(x) for x in line.split())
        time.sleep(0.01 * (offset % 5))  # land the kill at varying points of the next batch
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return committed


@pytest.mark.parametrize("batches", [3, 17, 41])
def test_sigkill_during_ingest(tmp_path: Path, batches: int) -> None:
    all_committed: list[int] = []
    for round_ in range(2):  # second round starts from the crashed store
        all_committed += burst_and_kill(tmp_path, round_ * 1000, batches)
    db = MemoryDB(tmp_path / "memory.sqlite3")
    assert db.integrity_ok()
    db.close()
    store = HnswMemoryStore(StoreConfig(path=tmp_path), HashingEmbedder(dim=64))
    try:
        assert store.report.index_state in {"loaded", "reconciled", "rebuilt"}
        assert store.count() >= len(all_committed)
        records = store.get(all_committed)
        assert [r.id for r in records] == all_committed
        for record in records[:: max(1, len(records) // 40)]:
            hits = store.search(record.text, k=3)
            assert record.id in [h.record.id for h in hits]
    finally:
        store.close()
