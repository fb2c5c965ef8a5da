"""Worker logging is bounded: long records are cut, a flood is capped per second and counted."""

from __future__ import annotations

import io
import logging

from tars.runtime.logs import BoundedHandler


def test_bounded_handler_cuts_lines_and_caps_the_rate() -> None:
    now = [0.0]
    out = io.StringIO()
    handler = BoundedHandler(out, max_chars=100, per_second=5, clock=lambda: now[0])
    log = logging.getLogger("test.bounded")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("%s", "x" * 10_000)
        for i in range(20):
            log.warning("line %d", i)
        now[0] = 1.5
        log.warning("after")
    finally:
        log.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0] == "x" * 100 + " ...[9900 more characters cut]"
    assert lines[1:5] == [f"line {i}" for i in range(4)]
    assert lines[5] == "16 log lines suppressed (more than 5 a second)"
    assert lines[6:] == ["after"]
