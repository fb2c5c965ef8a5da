"""Prompt building: persona, stable prefix, bounded history, memories in the user turn."""

from __future__ import annotations

from tars_llm.prompt import CharacterProfile, PromptBuilder
from tars_llm.types import ChatMessage, ToolCall


def _history(turns: int) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for i in range(turns):
        out.append(ChatMessage(role="user", content=f"question {i}"))
        out.append(ChatMessage(role="assistant", content=f"answer {i}"))
    return out


def test_profile_from_dict_renders_persona() -> None:
    profile = CharacterProfile.from_dict(
        {"name": "Marvin", "style": "gloomy", "facts": ["built by Sirius", "has a brain the size of a planet"], "x": 1}
    )
    prompt = profile.system_prompt()
    assert prompt.startswith("You are Marvin. Your style is gloomy.")
    assert "- has a brain the size of a planet" in prompt
    assert CharacterProfile.from_dict({"facts": "one fact"}).facts == ("one fact",)


def test_system_prefix_is_identical_across_turns() -> None:
    builder = PromptBuilder(CharacterProfile(name="TARS"))
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
    history.insert(8, ChatMessage(role="assistant", content="", tool_calls=(ToolCall("c", "calculator", {}),)))
    history.insert(9, ChatMessage(role="tool", content="84", tool_call_id="c"))
    kept = builder.trim_history(history)
    assert len(kept) <= 4 and kept[0].role == "user"
    assert kept[-1] == history[-1]
    assert PromptBuilder(max_history_messages=0).trim_history(history) == []


def test_builder_from_config() -> None:
    from tars_llm.config import LLMConfig

    builder = PromptBuilder.from_config(LLMConfig(max_history_messages=2), CharacterProfile(name="Ada"))
    messages = builder.build("q", _history(3))
    assert [m.content for m in messages[1:]] == ["question 2", "answer 2", "q"]
    assert messages[0].content.startswith("You are Ada.")
