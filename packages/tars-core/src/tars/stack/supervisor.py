"""Supervise worker processes: merged coloured logs, restart on exit or silence, clean shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from tars.cli.render import colour_for
from tars.stack.workers import WorkerSpec


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the supervisor dies, so no worker is left orphaned (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class Supervised:
    spec: WorkerSpec
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    backoff: float = 1.0
    last_beat: float | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


MAX_LINE = 8000
"""Characters of one worker log line shown; the rest is cut (the pipe is read in chunks, so a
line of any length never stops the reader)."""


class Supervisor:
    """Starts each worker as ``python -m <module>``; restarts it with backoff when it dies, and
    kills (then restarts) one whose heartbeats stop for ``silence_s`` after it sent one."""

    def __init__(self, workers: list[WorkerSpec], env: dict[str, dict[str, str]], console: Console,
                 *, max_backoff: float = 30.0, on_exit: Callable[[str, int], None] | None = None,
                 silence_s: float = 60.0) -> None:
        self.items = {w.name: Supervised(w) for w in workers}
        self.env = env
        self.console = console
        self.max_backoff = max_backoff
        self.stopping = False
        self.on_exit = on_exit
        self.silence_s = silence_s
        self.silenced = 0
        self._watchdog: asyncio.Task[None] | None = None

    def heartbeat(self, name: str) -> None:
        """A heartbeat (or any sign of life on the bus) from worker ``name``."""
        item = self.items.get(name)
        if item is not None:
            item.last_beat = time.monotonic()

    async def _watch(self) -> None:
        while not self.stopping:
            await asyncio.sleep(min(1.0, self.silence_s / 4))
            now = time.monotonic()
            for item in self.items.values():
                proc = item.proc
                if (item.last_beat is None or proc is None or proc.returncode is not None
                        or now - item.last_beat < self.silence_s):
                    continue
                self.log(item.spec.name, f"no heartbeat for {now - item.last_beat:.0f}s; killing it")
                self.silenced += 1
                item.last_beat = None
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()

    def log(self, name: str, line: str) -> None:
        prefix = Text(f"{name:>7} | ", style=colour_for(name))
        self.console.print(prefix + Text(line))

    async def start(self) -> None:
        for item in self.items.values():
            item.task = asyncio.create_task(self._keep(item), name=f"supervise-{item.spec.name}")
        self._watchdog = asyncio.create_task(self._watch(), name="supervise-heartbeats")

    async def _spawn(self, item: Supervised) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            *item.spec.argv, env={**os.environ, **self.env.get(item.spec.name, {})}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent,
        )
        item.proc, item.started_at, item.last_beat = proc, time.monotonic(), None
        return proc

    async def _pump(self, item: Supervised, stream: asyncio.StreamReader) -> None:
        """Show the worker's output line by line, reading chunks: no line length limit. A line
        longer than MAX_LINE is shown cut, and the rest of it skipped."""
        pending, skipping = b"", False
        while chunk := await stream.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                if not skipping:
                    self._show(item.spec.name, raw)
                skipping = False
            if len(pending) > MAX_LINE and not skipping:
                self._show(item.spec.name, pending, cut=True)
                skipping = True
            if skipping:
                pending = b""
        if pending and not skipping:
            self._show(item.spec.name, pending)

    def _show(self, name: str, raw: bytes, *, cut: bool = False) -> None:
        line = raw[:MAX_LINE].decode(errors="replace").rstrip()
        if cut or len(raw) > MAX_LINE:
            line += " ...[cut]"
        self.log(name, line)

    async def _keep(self, item: Supervised) -> None:
        while not self.stopping:
            proc = await self._spawn(item)
            assert proc.stdout is not None
            await self._pump(item, proc.stdout)
            code = await proc.wait()
            if self.stopping:
                return
            if self.on_exit is not None:
                self.on_exit(item.spec.name, code)
            if code == 2:  # a configuration error: restarting cannot help
                self.log(item.spec.name, "exited with a configuration error; not restarting")
                return
            if time.monotonic() - item.started_at > 60:
                item.backoff = 1.0
            delay = random.uniform(item.backoff / 2, item.backoff)
            item.backoff = min(self.max_backoff, item.backoff * 2)
            item.restarts += 1
            self.log(item.spec.name, f"exited with {code}; restarting in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def stop(self, timeout: float = 10.0) -> None:
        self.stopping = True
        procs = [i.proc for i in self.items.values() if i.proc and i.proc.returncode is None]
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), timeout)
        except TimeoutError:
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        tasks = [i.task for i in self.items.values() if i.task]
        if self._watchdog is not None:
            tasks.append(self._watchdog)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
