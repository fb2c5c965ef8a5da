"""Is a speculative transcript a finished utterance? (ends a sentence, does not trail off)."""

from __future__ import annotations

import re
from typing import Literal

Ending = Literal["complete", "plausible", "unfinished"]
"""How a transcript ends: a finished sentence; no sentence end, but not a word that goes on
either (Whisper often leaves a short command unpunctuated); or trailing off."""

_WORD = re.compile(r"[a-z']+")

#: Words an utterance that goes on usually pauses after ("set a timer for ...").
TRAILING: frozenset[str] = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "because", "if", "that", "to", "of", "for",
    "with", "from", "in", "on", "at", "by", "my", "your", "his", "her", "its", "our", "their",
    "is", "are", "was", "were", "be", "been", "um", "uh", "er", "like", "than", "then", "when",
    "which", "who", "whose", "where", "how", "about", "into", "onto", "over", "under", "after",
    "before", "i", "you", "we", "they", "he", "she",
})


def ending(text: str) -> Ending:
    """"complete": a sentence end (. ? !) after a word that does not usually go on;
    "plausible": two words or more without a sentence end, the last of them not one that goes on;
    "unfinished": anything else (a trailing word, "...", a comma, a lone word)."""
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words or words[-1] in TRAILING or stripped.endswith(("...", "\u2026", ",", ";", ":", "-")):
        return "unfinished"
    if stripped[-1] in ".?!":
        return "complete"
    return "plausible" if len(words) >= 2 and stripped[-1].isalnum() else "unfinished"


def is_complete(text: str) -> bool:
    """A sentence end (. ? !) after at least one word, and not a word that usually goes on."""
    return ending(text) == "complete"
