"""Local intents answered without the LLM, matched by hassil templates kept as data (YAML)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path

from hassil import Intents, recognize

from tars_router.wakephrase import WakePhrases


class IntentName(StrEnum):
    """Intents the router handles by itself (the intent names of the template files)."""

    TIME = "time"
    DATE = "date"
    STOP = "stop"
    REPEAT = "repeat"
    VOLUME = "volume"
    NAME = "name"
    GREET = "greet"
    TIMER = "timer"
    CALCULATE = "calculate"
    REMEMBER = "remember"


@dataclass(frozen=True, slots=True)
class Intent:
    """A matched intent; ``slots`` carry its parameters (for volume: direction, or level)."""

    name: IntentName
    slots: Mapping[str, str] = field(default_factory=dict)
    text: str = ""


def builtin_templates() -> Path:
    """The packaged English templates (``tars_router/data/intents_en.yaml``)."""
    return Path(str(resources.files("tars_router") / "data" / "intents_en.yaml"))


def normalize(text: str) -> str:
    """Lower-case, ``%`` as a word, apostrophes folded away, digit groups joined ("1,200"),
    punctuation dropped, spaces collapsed."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("%", " percent ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = text.replace("'", "")
    text = re.sub(r"[^\w\s]|_", " ", text)
    return re.sub(r"\s+", " ", text).strip()


WARM_UP = ("what is the capital of france", "what is twelve times seven", "what is 12 times 7",
           "set the volume to fifty", "set a timer for ten seconds")
"""Matched once at load: hassil builds the word forms of a number range (0-1000: ~0.1 s) the first
time a sentence reaches it, which would otherwise stall the router's loop on the first question."""


class IntentMatcher:
    """Match whole utterances against hassil sentence templates; never on substrings.

    ``assistant_names`` are stripped when the user addresses the assistant ("tars, stop",
    "stop, tars"). ``extra_files`` are merged over the packaged templates, in order (same
    intent name: more sentences). Anything without a whole-sentence match (for example "what
    time does the shop close", "set a timer for five minutes") returns None: it goes to the LLM.
    Loading reads files: build it off the event loop.
    """

    def __init__(self, assistant_names: Iterable[str] = ("tars",),
                 extra_files: Iterable[str | Path] = ()) -> None:
        self._names = tuple(n for n in (normalize(x) for x in assistant_names) if n)
        self._address = WakePhrases(self._names)
        files = [builtin_templates(), *(Path(f).expanduser() for f in extra_files)]
        try:
            self.intents = Intents.from_files(files)
        except OSError:
            raise
        except Exception as exc:  # yaml, KeyError, hassil's parse errors: one message
            raise ValueError(f"bad intent templates: {type(exc).__name__}: {exc}") from exc
        unknown = set(self.intents.intents) - {n.value for n in IntentName}
        if unknown:
            raise ValueError(f"unknown intent(s) in templates: {', '.join(sorted(unknown))}")
        for sentence in WARM_UP:  # hassil builds its number lists at the first use of each
            self.match(sentence)

    def match(self, text: str) -> Intent | None:
        """Return the intent the utterance expresses, or None."""
        core = self._strip_names(normalize(text))
        if not core:
            return None
        result = recognize(core, self.intents)
        if result is None:
            return None
        slots: dict[str, str] = {}
        for key, entity in result.entities.items():
            value = entity.value
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            slots[key] = str(value)
        return Intent(name=IntentName(result.intent.name), slots=slots, text=text)

    def _strip_names(self, text: str) -> str:
        text = self._address.strip(text)
        for name in self._names:
            if text.endswith(" " + name):
                text = text[: -len(name) - 1]
        return text
