"""``tars up`` in a fresh folder as a child process: its own broker (passwords, the registry's
ACL) and every installed worker, supervised. Used by the acoustic suite and ``tars bench chaos``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class UpStack:
    """``start()`` blocks until "tars is ready" (or raises with the log's tail); ``url`` is then
    the operator's broker URL (``cli.url``); ``stop()`` sends Ctrl-C, then kills the group."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, *,
                 ready_timeout_s: float = 420.0) -> None:
        self.home = home
        self.extra_env = env or {}
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = home / "up.log"
        self.ready_s = 0.0

    @property
    def runtime_dir(self) -> Path:
        """Where ``tars up`` keeps the broker's files and the URLs."""
        return self.home / ".tars" / "run"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TARS_")}
        # TARS_PORT=0: the gateway on a free port, so a stack already running here cannot clash
        env.update(TARS_DATA_DIR=str(self.home / "data"), TARS_HEARTBEAT_S="2", TARS_PORT="0")
        env.update(self.extra_env)
        t0 = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from tars.cli.app import main; main()", "up"],
                cwd=self.home, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + self.ready_timeout_s
        while "tars is ready" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.text()[-3000:]
                self.stop()
                raise RuntimeError(f"tars up did not become ready:\n{tail}")
            time.sleep(0.5)
        self.ready_s = time.monotonic() - t0
        self.url = (self.runtime_dir / "cli.url").read_text().strip()

    def text(self) -> str:
        """The log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
