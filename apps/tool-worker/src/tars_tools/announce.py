"""What tars says when a timer or an alarm goes off."""

from __future__ import annotations

from datetime import datetime

from tars_tools.timers import FiredTimer
from tars_tools.timerstore import TimerKind


def _duration_adjective(seconds: float) -> str:
    """``300`` -> ``"5 minute"`` (as in "a 5 minute timer")."""
    for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size or unit == "second":
            count = seconds / size
            shown = f"{count:g}" if count == round(count, 1) else f"{round(count)}"
            return f"{shown} {unit}"
    raise AssertionError("unreachable")


def fired_sentence(fired: FiredTimer) -> str:
    """``Your 5 minute timer is done.`` / ``Your pasta timer is done.`` / ``Your 7:30 alarm ...``."""
    timer = fired.timer
    if timer.kind is TimerKind.TIMER:
        name = timer.label or _duration_adjective(timer.duration_s or 0.0)
        text = f"Your {name} timer is done."
    else:
        at = datetime.fromtimestamp(timer.due_at).astimezone()
        name = timer.label or f"{at.hour % 12 or 12}:{at.minute:02d}"
        text = f"Your {name} alarm is going off."
    return f"{text} {fired.note}" if fired.note else text
