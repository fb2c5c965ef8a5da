"""Worker logging bounded per line and per second, so no input can flood the supervisor's pipe."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO


class BoundedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes at most ``per_second`` records a second, each cut to ``max_chars``; what it drops is
    counted and reported in one line when the next second starts."""

    def __init__(self, stream: TextIO | None = None, *, max_chars: int = 4000, per_second: int = 50,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(stream or sys.stderr)
        self.max_chars = max_chars
        self.per_second = per_second
        self.clock = clock
        self.window = -1.0
        self.count = 0
        self.dropped = 0

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if len(text) > self.max_chars:
            text = f"{text[:self.max_chars]} ...[{len(text) - self.max_chars} more characters cut]"
        return text

    def emit(self, record: logging.LogRecord) -> None:
        now = self.clock()
        if now - self.window >= 1.0:
            self.window, self.count = now, 0
            if self.dropped:
                dropped, self.dropped = self.dropped, 0
                super().emit(logging.makeLogRecord({
                    "name": "tars.log", "levelno": logging.WARNING, "levelname": "WARNING",
                    "msg": "%d log lines suppressed (more than %d a second)",
                    "args": (dropped, self.per_second)}))
        if self.count >= self.per_second:
            self.dropped += 1
            return
        self.count += 1
        super().emit(record)


def setup_logging(service: str, level: str, *, max_chars: int = 4000, per_second: int = 50) -> None:
    handler = BoundedHandler(max_chars=max_chars, per_second=per_second)
    handler.setFormatter(logging.Formatter(
        f"%(asctime)s %(levelname)-7s {service} %(name)s: %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
