"""Spoken answers for the local intents, from the real clock in the user's time zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tars.runtime.clock import Clock, SystemClock
from tars_router.intents import Intent, IntentName


def say_time(moment: datetime) -> str:
    """``It's 3:07 PM.`` for 15:07."""
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"It's {hour}:{moment.minute:02d} {suffix}."


def say_date(moment: datetime) -> str:
    """``Today is Monday, November 23.``"""
    return f"Today is {moment:%A}, {moment:%B} {moment.day}."


_REMEMBER = re.compile(r"\b(?:remember|note|keep in mind|don'?t forget)\b[,:]?\s+(?:that\s+)?(.+)$",
                       re.IGNORECASE)


def fact_of(intent: Intent) -> str:
    """What a ``remember`` intent asks to keep, in the user's own casing ("my sister is Ada")."""
    found = _REMEMBER.search(intent.text)
    fact = found.group(1) if found else intent.slots.get("fact", "")
    return fact.strip().rstrip(".!?").strip()


OPERATOR_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by",
                  "**": "to the power of"}


def arithmetic(slots: Mapping[str, str]) -> tuple[str, str]:
    """(the calculator's expression, the question as said) of a ``calculate`` intent."""
    x, op, y = slots.get("x", "0"), slots.get("operator", "+"), slots.get("y", "")
    if op == "sqrt":
        return f"sqrt({x})", f"The square root of {x}"
    return f"{x} {op} {y}", f"{x} {OPERATOR_WORDS.get(op, op)} {y}"


def say_number(text: str) -> str:
    """A calculator result as said aloud: whole numbers as they are, others to two decimals."""
    try:
        value = float(text)
    except ValueError:
        return text
    if value.is_integer() or "e" in text.lower():
        return text
    rounded = f"{value:.2f}".rstrip("0").rstrip(".")
    return rounded if float(rounded) == value else f"about {rounded}"


@dataclass(frozen=True, slots=True)
class LocalAnswer:
    """What the router does for a local intent: an optional reply and an optional action.

    ``action`` is one of ``"stop"``, ``"repeat"``, ``"volume"``, ``"timer"``, ``"calculate"`` or
    ``"remember"`` (the last three done by the tools worker) or None (just speak ``text``).
    """

    intent: Intent
    text: str | None
    action: str | None = None


class LocalAnswers:
    """Turns an :class:`Intent` into a :class:`LocalAnswer` using ``clock`` (local time zone)."""

    def __init__(self, assistant_name: str = "TARS", clock: Clock | None = None) -> None:
        self._name = assistant_name
        self._clock: Clock = clock or SystemClock()

    def answer(self, intent: Intent) -> LocalAnswer:
        """Build the answer; never raises for a valid :class:`Intent`."""
        match intent.name:
            case IntentName.TIME:
                return LocalAnswer(intent, say_time(self._clock.now()))
            case IntentName.DATE:
                return LocalAnswer(intent, say_date(self._clock.now()))
            case IntentName.NAME:
                return LocalAnswer(intent, f"I'm {self._name}, your offline assistant.")
            case IntentName.GREET:
                return LocalAnswer(intent, "Hello! What can I do for you?")
            case (IntentName.TIMER | IntentName.CALCULATE | IntentName.REMEMBER | IntentName.STOP
                  | IntentName.REPEAT | IntentName.VOLUME):
                return LocalAnswer(intent, None, action=intent.name.value)  # the action is its name
