"""Per-turn context: the current local date and time, read from the injected clock."""

from __future__ import annotations

from tars.runtime.clock import Clock


def now_text(clock: Clock) -> str:
    """``Monday, November 25, 2030, 3:07 PM CST``: the Now line of a turn."""
    now = clock.now()
    hour12 = now.hour % 12 or 12
    zone = now.tzname() or ""
    return f"{now:%A}, {now:%B} {now.day}, {now.year}, {hour12}:{now:%M} {now:%p} {zone}".strip()
