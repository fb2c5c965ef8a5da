"""Is a speculative transcript a finished utterance? (ends a sentence, does not trail off)."""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z']+")

#: Words an utterance that goes on usually pauses after ("set a timer for ...").
TRAILING: frozenset[str] = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "because", "if", "that", "to", "of", "for",
    "with", "from", "in", "on", "at", "by", "my", "your", "his", "her", "its", "our", "their",
    "is", "are", "was", "were", "be", "been", "um", "uh", "er", "like", "than", "then", "when",
    "which", "who", "whose", "where", "how", "about", "into", "onto", "over", "under", "after",
    "before", "i", "you", "we", "they", "he", "she",
})


def is_complete(text: str) -> bool:
    """A sentence end (. ? !) after at least one word, and not a word that usually goes on."""
    stripped = text.strip()
    if not stripped or stripped[-1] not in ".?!":
        return False
    words = _WORD.findall(stripped.lower())
    return bool(words) and words[-1] not in TRAILING and not stripped.endswith("...")
