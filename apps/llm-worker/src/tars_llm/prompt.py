"""Build chat prompts whose system + tools prefix never changes between turns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tars.contracts.character import Character
from tars.contracts.tools import ToolSpec
from tars_llm.config import LLMConfig
from tars_llm.rules import tool_rules
from tars_llm.types import ModelMessage

DEFAULT_INSTRUCTIONS = (
    "Answer in one to three short spoken sentences, without markdown, lists or emoji. "
    "Never invent a time, a date or a result: take it from the Now line or a tool result, "
    "or say you do not know."
)


BUILTIN_STYLE = "dry, concise and helpful"
"""The style when neither the character file nor the published character gives one."""


def builtin_character() -> Character:
    """The persona used without a (valid) character file."""
    return Character(name="TARS", style=BUILTIN_STYLE)


def persona_prompt(character: Character, instructions: str = DEFAULT_INSTRUCTIONS) -> str:
    """The persona part of the system prompt: name, style, rules, dials, facts. Depends on
    nothing per-turn."""
    style = " ".join(character.style.split())
    if style and style[-1] not in ".!?":
        style = f"Your style is {style}."
    lines = [f"You are {character.name}. {style}".strip(), instructions]
    if character.traits:
        dials = ", ".join(f"{name} {pct}%" for name, pct in sorted(character.traits.items()))
        lines.append(f"Your settings: {dials}.")
    if character.facts:
        lines.append("Facts about you:")
        lines.extend(f"- {fact}" for fact in character.facts)
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

    character: Character = field(default_factory=builtin_character)
    instructions: str = DEFAULT_INSTRUCTIONS
    """How to answer (spoken, short, never invent): the same for every persona."""
    max_history_messages: int = 12
    max_memory_snippets: int = 4
    max_memory_chars: int = 600

    @classmethod
    def from_config(cls, config: LLMConfig, character: Character) -> PromptBuilder:
        """A builder with the history and memory bounds of ``config``."""
        return cls(
            character=character,
            max_history_messages=config.max_history_messages,
            max_memory_snippets=config.max_memory_snippets,
        )

    def build(
        self,
        user_text: str,
        history: Sequence[ModelMessage] = (),
        memories: Sequence[str] = (),
        *,
        tools: Sequence[ToolSpec] = (),
        now: str = "",
    ) -> list[ModelMessage]:
        """Return the messages for a new user turn (``now``: the Now line's text)."""
        system = ModelMessage(role="system", content=self.system_text(tools))
        return [system, *self.trim_history(history), self.user_message(user_text, memories, now)]

    def system_text(self, tools: Sequence[ToolSpec] = ()) -> str:
        """Persona and rules, then one rule per offered tool."""
        rules = tool_rules(tools)
        persona = persona_prompt(self.character, self.instructions)
        return f"{persona}\n{rules}" if rules else persona

    def user_message(self, user_text: str, memories: Sequence[str] = (),
                     now: str = "") -> ModelMessage:
        """Memories (if any) before the user's words, the Now line after them (a small model
        copies numbers of a Now line placed first into its tool arguments)."""
        snippets = self._memory_lines(memories)
        parts = ["What the user told you before (may help):\n" + "\n".join(snippets)] if snippets else []
        parts.append(user_text)
        if now:
            parts.append(f"(Now: {now}.)")
        return ModelMessage(role="user", content="\n\n".join(parts))

    def trim_history(self, history: Sequence[ModelMessage]) -> list[ModelMessage]:
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
