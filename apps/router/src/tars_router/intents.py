"""Local intents answered without the LLM: time, date, stop, repeat, volume, the assistant's name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class IntentName(StrEnum):
    """Intents the router handles by itself."""

    TIME = "time"
    DATE = "date"
    STOP = "stop"
    REPEAT = "repeat"
    VOLUME = "volume"
    NAME = "name"


@dataclass(frozen=True, slots=True)
class Intent:
    """A matched intent; ``slots`` carry its parameters (for volume: direction, or level)."""

    name: IntentName
    slots: Mapping[str, str] = field(default_factory=dict)
    text: str = ""


_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "a hundred": 100, "one hundred": 100,
}
_NUM = r"(?P<level>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + ")"

# Each alternative must match the *whole* normalised utterance (after fillers are stripped).
_PATTERNS: list[tuple[IntentName, list[str], dict[str, str]]] = [
    (IntentName.TIME, [
        r"(?:what|what is|whats) (?:the )?time(?: is it)?(?: now| right now)?",
        r"what time is it(?: now| right now)?",
        (r"(?:tell me |do you know |do you have )?(?:what )?(?:the )?time(?: it is| is it)?"
         r"(?: now| right now)?"),
        r"(?:tell me )?what time it is(?: now| right now)?",
    ], {}),
    (IntentName.DATE, [
        r"(?:what|what is|whats) (?:the )?(?:date|day)(?: is it)?(?: today)?",
        r"(?:what|what is|whats) (?:todays date|today)",
        r"what day (?:is it|is today|of the week is it|of the week is today)",
        r"(?:tell me )?(?:todays date|the date|the date today)",
        r"what is the date today", r"what date is it(?: today)?",
    ], {}),
    (IntentName.STOP, [
        r"stop(?: it| that| talking| speaking)?", r"cancel(?: that| it)?", r"never ?mind",
        r"forget it", r"shut up", r"be quiet", r"quiet", r"silence", r"enough",
        r"(?:that is|thats) enough", r"that will do", r"nothing",
    ], {}),
    (IntentName.REPEAT, [
        r"(?:can you |could you )?(?:repeat|say) (?:that|it)(?: again)?",
        r"repeat(?: yourself)?", r"say again", r"come again", r"pardon(?: me)?",
        r"what did you (?:just )?say", r"what", r"one more time",
    ], {}),
    (IntentName.VOLUME, [
        r"(?:turn |crank )?(?:the )?volume up", r"turn (?:it |the volume )?up",
        r"(?:increase|raise) the volume", r"(?:a bit |a little )?louder", r"speak up",
        r"turn up the volume",
    ], {"direction": "up"}),
    (IntentName.VOLUME, [
        r"(?:turn )?(?:the )?volume down", r"turn (?:it |the volume )?down",
        r"(?:decrease|lower|reduce) the volume", r"(?:a bit |a little )?(?:quieter|softer)",
        r"turn down the volume",
    ], {"direction": "down"}),
    (IntentName.VOLUME, [r"(?:set |change )?(?:the )?volume (?:to |at )?" + _NUM
                         + r"(?: percent)?"], {}),
    (IntentName.NAME, [
        r"(?:what|what is|whats) your name(?: again)?", r"who are you", r"what are you called",
        r"what (?:should|do) i call you", r"tell me your name",
    ], {}),
]

_LEADING_FILLERS = (
    "hey", "hi", "ok", "okay", "so", "um", "uh", "well", "please", "excuse me", "sorry",
    "can you tell me", "could you tell me", "would you tell me", "can you please tell me",
    "could you please tell me", "please tell me", "tell me", "do you know", "i want to know",
    "i would like to know", "id like to know", "can you", "could you", "would you",
)
_TRAILING_FILLERS = ("please", "for me", "thanks", "thank you", "a bit", "a little", "a little bit")


def normalize(text: str) -> str:
    """Lower-case, fold apostrophes away, drop punctuation and collapse whitespace."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"'", "", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


class IntentMatcher:
    """Match whole utterances against phrase patterns; never on substrings.

    ``assistant_names`` are stripped when the user addresses the assistant ("tars, stop").
    Anything that is not a whole-phrase match (for example "what time does the shop close",
    "set a timer for five minutes") returns None and goes to the LLM.
    """

    def __init__(self, assistant_names: tuple[str, ...] = ("tars",)) -> None:
        self._names = tuple(normalize(n) for n in assistant_names if normalize(n))
        self._compiled = [
            (name, re.compile("|".join(f"(?:{alt})" for alt in alts)), slots)
            for name, alts, slots in _PATTERNS
        ]

    def match(self, text: str) -> Intent | None:
        """Return the intent the utterance expresses, or None."""
        core = self._strip_fillers(normalize(text))
        if not core:
            return None
        for name, pattern, fixed in self._compiled:
            found = pattern.fullmatch(core)
            if found is None:
                continue
            slots = dict(fixed)
            level = found.groupdict().get("level")
            if level is not None:
                value = int(level) if level.isdigit() else _NUMBER_WORDS[level]
                if value > 100:
                    return None
                slots["level"] = str(value)
            return Intent(name=name, slots=slots, text=text)
        return None

    def _strip_fillers(self, text: str) -> str:
        lead = sorted((*_LEADING_FILLERS, *self._names), key=len, reverse=True)
        changed = True
        while changed and text:
            changed = False
            for filler in lead:
                if text == filler:
                    break
                if text.startswith(filler + " "):
                    text, changed = text[len(filler) + 1:], True
                    break
            for filler in (*_TRAILING_FILLERS, *self._names):
                if text.endswith(" " + filler):
                    text, changed = text[: -len(filler) - 1], True
                    break
        return text
