"""Build chat prompts whose system + tools prefix never changes between turns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tars_llm.config import LLMConfig
from tars_llm.types import ChatMessage

DEFAULT_INSTRUCTIONS = (
    "You are a voice assistant: answer in one to three short spoken sentences, "
    "without markdown, lists or emoji. When a tool can answer exactly (arithmetic, time, "
    "weather), call it instead of guessing."
)


@dataclass(frozen=True, slots=True)
class CharacterProfile:
    """Who the assistant is: a name, a speaking style and a few facts about itself."""

    name: str = "TARS"
    style: str = "dry, concise and helpful"
    facts: tuple[str, ...] = ()
    instructions: str = DEFAULT_INSTRUCTIONS
    traits: tuple[tuple[str, int], ...] = ()
    """Behaviour dials in percent, e.g. ``(("honesty", 90), ("humour", 75))``."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CharacterProfile:
        """Build a profile from a character file's table (unknown keys are ignored)."""
        facts = data.get("facts", ())
        dials = data.get("traits", data.get("settings", {}))
        default = cls()
        return cls(
            name=str(data.get("name", default.name)),
            style=str(data.get("style", default.style)),
            facts=tuple(str(f) for f in ([facts] if isinstance(facts, str) else facts)),
            instructions=str(data.get("instructions", DEFAULT_INSTRUCTIONS)),
            traits=tuple(sorted((str(k), int(v)) for k, v in dict(dials or {}).items())),
        )

    def system_prompt(self) -> str:
        """The system prompt: persona, style, facts, rules. Depends on nothing per-turn."""
        style = " ".join(self.style.split())
        if style and style[-1] not in ".!?":
            style = f"Your style is {style}."
        lines = [f"You are {self.name}. {style}".strip(), self.instructions]
        if self.traits:
            dials = ", ".join(f"{name} {pct}%" for name, pct in self.traits)
            lines.append(f"Your settings: {dials}.")
        if self.facts:
            lines.append("Facts about you:")
            lines.extend(f"- {fact}" for fact in self.facts)
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class PromptBuilder:
    """Assembles the messages of one turn.

    Order: system (stable) -> bounded history -> the user turn, with retrieved memories
    prepended to that user message only. The tools are rendered by the chat template right
    after the system text, so system + tools form an identical prefix on every turn and the
    model's KV cache for it is reused; memories never enter the history.
    """

    profile: CharacterProfile = field(default_factory=CharacterProfile)
    max_history_messages: int = 12
    max_memory_snippets: int = 4
    max_memory_chars: int = 600

    @classmethod
    def from_config(cls, config: LLMConfig, profile: CharacterProfile) -> PromptBuilder:
        """A builder with the history and memory bounds of ``config``."""
        return cls(
            profile=profile,
            max_history_messages=config.max_history_messages,
            max_memory_snippets=config.max_memory_snippets,
        )

    def build(
        self,
        user_text: str,
        history: Sequence[ChatMessage] = (),
        memories: Sequence[str] = (),
    ) -> list[ChatMessage]:
        """Return the messages for a new user turn."""
        system = ChatMessage(role="system", content=self.profile.system_prompt())
        return [system, *self.trim_history(history), self.user_message(user_text, memories)]

    def user_message(self, user_text: str, memories: Sequence[str] = ()) -> ChatMessage:
        """The user turn, with the relevant memories (if any) as context before it."""
        snippets = self._memory_lines(memories)
        if not snippets:
            return ChatMessage(role="user", content=user_text)
        context = "Things you remember that may help:\n" + "\n".join(snippets)
        return ChatMessage(role="user", content=f"{context}\n\n{user_text}")

    def trim_history(self, history: Sequence[ChatMessage]) -> list[ChatMessage]:
        """Keep the newest messages, starting at a user message (no orphan tool results)."""
        kept = [m for m in history if m.role != "system"][-self.max_history_messages :]
        if self.max_history_messages == 0:
            return []
        while kept and kept[0].role != "user":
            kept.pop(0)
        return kept

    def memory_count(self, memories: Sequence[str]) -> int:
        """How many of ``memories`` fit in the prompt (the others are dropped)."""
        return len(self._memory_lines(memories))

    def _memory_lines(self, memories: Sequence[str]) -> list[str]:
        lines: list[str] = []
        budget = self.max_memory_chars
        for memory in memories[: self.max_memory_snippets]:
            text = " ".join(memory.split())
            if not text or len(text) > budget:
                continue
            budget -= len(text)
            lines.append(f"- {text}")
        return lines
