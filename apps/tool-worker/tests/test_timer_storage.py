"""A timer is stored before it is acknowledged: a full disk fails the call, files are private."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tars_tools.timerstore import TimerKind, TimerStorageError, TimerStore


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_refuses_the_timer(small_disk: Path) -> None:
    store = TimerStore(small_disk / "tars" / "timers.sqlite")
    kept = store.new(TimerKind.TIMER, "tea", 2_000_000_000.0, 1_999_999_000.0, 1000.0, "kitchen")
    with (small_disk / "filler").open("wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    with pytest.raises(TimerStorageError, match="not stored"):
        store.new(TimerKind.TIMER, "pasta " * 2000, 2_000_000_100.0, 1_999_999_000.0, 1100.0, "kitchen")
    assert [t.id for t in store.pending()] == [kept.id]  # nothing half-stored
    store.close()


def test_timer_files_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    store = TimerStore(tmp_path / "data" / "timers.sqlite")
    store.new(TimerKind.ALARM, "", 2_000_000_000.0, 1_999_999_000.0)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    for path in (tmp_path / "data").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()
