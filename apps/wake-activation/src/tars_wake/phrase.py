"""Wake phrase in a transcript ("hey tars, what time is it"): for names no wake model knows."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TRIM = " \t\n,.;:!?-–—…\"'"

DEFAULT_PHRASES: tuple[str, ...] = ("hey tars", "ok tars", "okay tars", "hi tars")


def _words(text: str) -> list[str]:
    return [w.replace("’", "").replace("'", "") for w in _WORD.findall(text.lower())]


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """The wake phrase that matched (as configured) and the rest of the utterance."""

    phrase: str
    command: str
    """Text after the phrase, original case kept, leading punctuation trimmed; may be empty."""


class PhraseWakeMatcher:
    """Finds a wake phrase as whole words, ignoring case and punctuation ("Hey, TARS!").

    ``max_leading_words`` words may come before it (fillers such as "um", "oh"); ``aliases``
    maps a mis-heard spelling to its phrase (``{"hey stars": "hey tars"}``).
    """

    def __init__(
        self,
        phrases: tuple[str, ...] | list[str] = DEFAULT_PHRASES,
        *,
        aliases: dict[str, str] | None = None,
        max_leading_words: int = 2,
    ) -> None:
        table = {p: p for p in phrases} | dict(aliases or {})
        self._patterns = sorted(
            ((_words(k), v) for k, v in table.items() if _words(k)),
            key=lambda item: -len(item[0]),  # longest phrase first
        )
        if not self._patterns:
            raise ValueError("PhraseWakeMatcher needs at least one non-empty phrase")
        self.max_leading_words = max_leading_words

    def match(self, text: str) -> PhraseMatch | None:
        """The first wake phrase in ``text`` and the command after it, or None."""
        spans = list(_WORD.finditer(text))
        words = [_words(m.group(0))[0] for m in spans]
        for start in range(min(self.max_leading_words, len(words) - 1) + 1):
            for pattern, phrase in self._patterns:
                if words[start : start + len(pattern)] == pattern:
                    end = spans[start + len(pattern) - 1].end()
                    return PhraseMatch(phrase, text[end:].lstrip(_TRIM).strip())
        return None
