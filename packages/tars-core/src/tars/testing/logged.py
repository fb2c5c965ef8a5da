"""A worker process for a test whose log is kept and read: ``running(module, env)``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import pytest


@dataclass
class LoggedProcess:
    """``python -m <module>`` with its stderr lines collected; ``ready`` is set at "Ready:"."""

    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.log.append(line)
            if "Ready:" in line:
                self.ready.set()

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log if needle in line]


@contextmanager
def running(module: str, env: Mapping[str, str], *, ready_s: float = 120.0,
            no_traceback: bool = True) -> Iterator[LoggedProcess]:
    """Start ``python -m module`` with ``env`` over this process's environment and wait for its
    "Ready:" line (the test fails with the log if it exits or ``ready_s`` passes first). On exit:
    SIGTERM, then the exit status must be 0 and (with ``no_traceback``) the log hold no
    traceback."""
    proc = subprocess.Popen([sys.executable, "-m", module], env={**os.environ, **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    p = LoggedProcess(proc)
    assert proc.stderr is not None
    threading.Thread(target=p.pump, args=(proc.stderr,), daemon=True).start()
    try:
        deadline = time.monotonic() + ready_s
        while not p.ready.wait(0.2) and proc.poll() is None and time.monotonic() < deadline:
            pass
        if not p.ready.is_set():
            pytest.fail(f"{module} not ready:\n" + "".join(p.log))
        yield p
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(5)
    assert code == 0, "".join(p.log)
    if no_traceback:
        assert not p.lines("Traceback"), "".join(p.log)
