"""A leading wake phrase ("Hey Jarvis, ...") stripped from a transcript, punctuation and all."""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_WAKE_PHRASES = ("hey jarvis", "jarvis", "hey tars", "tars")


class WakePhrases:
    """Strips any of ``phrases`` (case-insensitive, words separated by spaces or punctuation)
    from the start of a text, repeatedly: "Hey Jarvis. Hey Jarvis, stop!" -> "stop!"."""

    def __init__(self, phrases: Iterable[str] = DEFAULT_WAKE_PHRASES) -> None:
        words = [re.findall(r"\w+", p.lower()) for p in phrases]
        alts = sorted((w for w in words if w), key=lambda w: (-len(w), w))
        self.phrases = tuple(" ".join(w) for w in alts)
        if not alts:
            self._lead: re.Pattern[str] | None = None
            return
        body = "|".join(r"[\W_]+".join(re.escape(x) for x in w) for w in alts)
        self._lead = re.compile(rf"^[\W_]*(?:{body})(?![\w'])[\W_]*", re.IGNORECASE)

    def strip(self, text: str) -> str:
        """``text`` without its leading wake phrases; "" when it was nothing else."""
        if self._lead is None:
            return text.strip()
        out = text
        while True:
            cut = self._lead.sub("", out, count=1)
            if cut == out:
                break
            out = cut
        return out.strip()

    def only_wake(self, text: str) -> bool:
        """True if ``text`` held a wake phrase and nothing else."""
        return self._lead is not None and self._lead.match(text) is not None \
            and not self.strip(text)
