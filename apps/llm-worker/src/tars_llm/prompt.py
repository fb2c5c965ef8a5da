"""Build chat prompts whose system + tools prefix never changes between turns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tars_llm.config import LLMConfig
from tars_llm.rules import tool_rules
from tars_llm.types import ChatMessage, ToolSpec

DEFAULT_INSTRUCTIONS = (
    "Answer in one to three short spoken sentences, without markdown, lists or emoji. "
    "Never invent a time, a date or a result: take it from the Now line or a tool result, "
    "or say you do not know."
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

    Order: system (persona + one rule per tool, stable) -> bounded history -> the user turn,
    with the Now line (current local date and time) and retrieved memories prepended to that
    user message only. The tools are rendered by the chat template right after the system
    text, so system + tools form an identical prefix on every turn and the model's KV cache
    for it is reused; the Now line and memories never enter the history.
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
        *,
        tools: Sequence[ToolSpec] = (),
        now: str = "",
    ) -> list[ChatMessage]:
        """Return the messages for a new user turn (``now``: the Now line's text)."""
        system = ChatMessage(role="system", content=self.system_text(tools))
        return [system, *self.trim_history(history), self.user_message(user_text, memories, now)]

    def system_text(self, tools: Sequence[ToolSpec] = ()) -> str:
        """Persona and rules, then one rule per offered tool."""
        rules = tool_rules(tools)
        persona = self.profile.system_prompt()
        return f"{persona}\n{rules}" if rules else persona

    def user_message(self, user_text: str, memories: Sequence[str] = (),
                     now: str = "") -> ChatMessage:
        """Memories (if any) before the user's words, the Now line after them (a small model
        copies numbers of a Now line placed first into its tool arguments)."""
        snippets = self._memory_lines(memories)
        parts = ["What the user told you before (may help):\n" + "\n".join(snippets)] if snippets else []
        parts.append(user_text)
        if now:
            parts.append(f"(Now: {now}.)")
        return ChatMessage(role="user", content="\n\n".join(parts))

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
