"""Bounded conversation history: only what the user said and what the assistant actually spoke."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Exchange:
    """One user utterance and the part of the reply that was really spoken."""

    user: str
    assistant: str
    interrupted: bool = False


class ConversationHistory:
    """At most ``max_turns`` exchanges, oldest first. When full, the oldest half goes at once
    (not one a turn): the history, and so the LLM prompt it starts, keeps the same beginning
    for several turns, and the model's cache of it is reused instead of evaluated again."""

    def __init__(self, max_turns: int = 6) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be >= 1")
        self._items: deque[Exchange] = deque(maxlen=max_turns)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self._items)

    @property
    def max_turns(self) -> int:
        """How many exchanges are kept."""
        return self._items.maxlen or 0

    def add(self, exchange: Exchange) -> None:
        """Append; when full, drop the oldest half first."""
        if len(self._items) == self.max_turns:
            for _ in range(max(1, self.max_turns // 2)):
                self._items.popleft()
        self._items.append(exchange)

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()

    def last_reply(self) -> str | None:
        """The most recent spoken reply (for "repeat that"), or None."""
        for item in reversed(self._items):
            if item.assistant:
                return item.assistant
        return None

    def messages(self) -> list[dict[str, str]]:
        """Chat messages (``role``/``content``) for an LLM prompt."""
        out: list[dict[str, str]] = []
        for item in self._items:
            out.append({"role": "user", "content": item.user})
            if item.assistant:
                out.append({"role": "assistant", "content": item.assistant})
        return out
