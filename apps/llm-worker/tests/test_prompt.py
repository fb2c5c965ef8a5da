"""Prompt building: persona, stable prefix, bounded history, memories in the user turn."""

from __future__ import annotations

from tars.contracts.character import Character
from tars.contracts.character_file import character_from_table
from tars_llm.prompt import PromptBuilder, persona_prompt
from tars_llm.types import ModelMessage, ModelToolCall


def _history(turns: int) -> list[ModelMessage]:
    out: list[ModelMessage] = []
    for i in range(turns):
        out.append(ModelMessage(role="user", content=f"question {i}"))
        out.append(ModelMessage(role="assistant", content=f"answer {i}"))
    return out


def test_persona_prompt_renders_the_character_file() -> None:
    marvin = character_from_table({"name": "Marvin", "style": "gloomy",
                                   "facts": ["built by Sirius", "has a brain the size of a planet"],
                                   "settings": {"pessimism": 100, "cheer": 0}})
    prompt = persona_prompt(marvin)
    assert prompt.startswith("You are Marvin. Your style is gloomy.")
    assert "- has a brain the size of a planet" in prompt
    assert "Your settings: cheer 0%, pessimism 100%." in prompt


def test_system_prefix_is_identical_across_turns() -> None:
    builder = PromptBuilder(Character(name="TARS"))
    first = builder.build("hello", [], memories=["the user likes rooibos"])
    second = builder.build("and now?", _history(3), memories=["the user lives in Oslo"])
    assert first[0] == second[0]
    assert first[0].role == "system"
    assert "rooibos" not in first[0].content and "Oslo" not in second[0].content


def test_memories_go_into_the_user_turn_only() -> None:
    builder = PromptBuilder(max_memory_snippets=2)
    messages = builder.build("What do I drink?", _history(1), memories=["likes  tea", "", "owns a cat", "x"])
    last = messages[-1]
    assert last.role == "user" and last.content.endswith("What do I drink?")
    assert "- likes tea" in last.content and "owns a cat" not in last.content
    assert builder.build("hi")[-1].content == "hi"


def test_history_is_bounded_and_starts_with_a_user_message() -> None:
    builder = PromptBuilder(max_history_messages=4)
    history = _history(5)
    history.insert(8, ModelMessage(role="assistant", content="", tool_calls=(ModelToolCall("c", "calculator", {}),)))
    history.insert(9, ModelMessage(role="tool", content="84", tool_call_id="c"))
    kept = builder.trim_history(history)
    assert len(kept) <= 4 and kept[0].role == "user"
    assert kept[-1] == history[-1]
    assert PromptBuilder(max_history_messages=0).trim_history(history) == []


def test_builder_from_config() -> None:
    from tars_llm.config import LLMConfig

    builder = PromptBuilder.from_config(LLMConfig(max_history_messages=2), Character(name="Ada"))
    messages = builder.build("q", _history(3))
    assert [m.content for m in messages[1:]] == ["question 2", "answer 2", "q"]
    assert messages[0].content.startswith("You are Ada.")
