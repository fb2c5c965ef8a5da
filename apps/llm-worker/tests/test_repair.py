"""Argument repair, echo detection, the tool rules and the Now line."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tars.contracts.tools import ToolSpec
from tars.runtime.clock import ManualClock
from tars_llm.context import now_text
from tars_llm.prompt import PromptBuilder
from tars_llm.repair import is_echo, may_become_echo, repair_arguments, said_numbers, ungrounded
from tars_llm.replygate import ReplyGate
from tars_llm.rules import CLOSING_RULE, signature, tool_rules

NO_ARGS = {"additionalProperties": False, "description": "No arguments.", "properties": {},
           "type": "object"}
CALC = {"additionalProperties": False, "type": "object", "required": ["expression"],
        "properties": {"expression": {"type": "string", "description": "Arithmetic"}}}


@pytest.mark.parametrize("args", [{"type": "object"}, {"type": "object", "properties": {}},
                                  {"timezone": "UTC"}, {}])
def test_a_tool_without_parameters_gets_no_arguments(args: dict[str, object]) -> None:
    fixed, dropped = repair_arguments(args, NO_ARGS)
    assert fixed == {} and dropped == sorted(args)


def test_schema_echoed_around_values_is_unwrapped() -> None:
    fixed, dropped = repair_arguments({"type": "object", "properties": {"expression": "2+2"}}, CALC)
    assert fixed == {"expression": "2+2"} and dropped == ["type"]


def test_schema_fragments_and_unknown_keys_are_dropped() -> None:
    fixed, _ = repair_arguments({"expression": {"type": "string"}, "required": ["x"]}, CALC)
    assert fixed == {}
    loose = {**CALC, "additionalProperties": True}
    assert repair_arguments({"expression": "1", "extra": 2}, loose)[0] == {"expression": "1", "extra": 2}
    assert repair_arguments({"expression": "1", "extra": 2}, CALC) == ({"expression": "1"}, ["extra"])


def test_numbers_the_user_said() -> None:
    assert said_numbers("set a timer for twenty five minutes") == {1, 20, 5, 25}
    assert {1, 30} <= said_numbers("an hour and a half") and 90 not in said_numbers("an hour")
    assert said_numbers("wake me at 7:45") == {7, 45}
    timer = {"type": "object", "properties": {"hours": {"type": "integer"},
                                              "label": {"type": "string"}}}
    assert ungrounded({"hours": 14, "label": "x"}, timer, "remember my sister is Ada") == ["hours"]
    assert ungrounded({"hours": 2, "label": "x"}, timer, "a timer for two hours") == []
    assert ungrounded({"hours": 0}, timer, "a timer") == []


def test_plain_scalars_are_given_the_declared_type() -> None:
    schema = {"type": "object", "properties": {"expression": {"type": "string"},
                                               "minutes": {"type": "integer"},
                                               "level": {"type": "number"}}}
    fixed, changed = repair_arguments({"expression": 84, "minutes": " 5 ", "level": "0.5"}, schema)
    assert fixed == {"expression": "84", "minutes": 5, "level": 0.5}
    assert changed == ["expression", "minutes", "level"]
    kept = {"expression": True, "minutes": "five", "level": "a lot"}
    assert repair_arguments(kept, schema) == (kept, [])


@pytest.mark.parametrize(("reply", "echo"), [
    ("What is the capital of France?", True),
    ("what is the capital of france", True),
    ("What is the capital of", True),
    ("What is the capital of France? Paris.", False),
    ("The capital of France is Paris.", False),
    ("Paris.", False),
])
def test_echo_detection(reply: str, echo: bool) -> None:
    assert is_echo("What is the capital of France?", reply) is echo


def test_gate_holds_text_only_while_it_repeats_the_question() -> None:
    gate = ReplyGate(tools=False, question="Who wrote Hamlet?")
    assert gate.push("Who wr") == ""  # could still be an echo
    assert gate.push("ote it? Shakespeare") == "Who wrote it? Shakespeare"
    assert not gate.still_echo
    echo = ReplyGate(tools=False, question="Who wrote Hamlet?")
    assert echo.push("Who wrote Hamlet?") == "" and echo.still_echo
    assert echo.finish(False) == "Who wrote Hamlet?"
    assert may_become_echo("Who wrote Hamlet?", "") and not may_become_echo("Who wrote Hamlet?", "Hamlet")


def test_rules_name_every_tool_and_close_with_the_no_tool_rule() -> None:
    tools = [ToolSpec(name="get_time", description="Current time.", parameters=NO_ARGS),
             ToolSpec(name="calculate", description="Math.", parameters=CALC),
             ToolSpec(name="weather", description="Weather  forecast\nfor a city.", parameters={"type": "object"})]
    text = tool_rules(tools)
    lines = text.splitlines()
    assert [line.split()[1] for line in lines[1:-1]] == ["get_time", "calculate", "weather"]
    assert "- weather {}: Weather forecast for a city." in lines
    assert lines[-1].endswith(CLOSING_RULE) and tool_rules([]) == ""
    assert signature(CALC) == '{"expression": string (Arithmetic)}'
    optional = {"properties": {"id": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}
    assert signature(optional) == '{"id"?: string}'


def test_now_line_comes_from_the_clock_in_its_zone() -> None:
    clock = ManualClock(datetime(2030, 11, 25, 15, 7, tzinfo=ZoneInfo("America/Chicago")))
    assert now_text(clock) == "Monday, November 25, 2030, 3:07 PM CST"
    message = PromptBuilder().user_message("What time is it?", ["I like tea."], now_text(clock))
    assert message.content.startswith("What the user told you before")
    assert message.content.endswith("What time is it?\n\n(Now: Monday, November 25, 2030, 3:07 PM CST.)")
    calculate = ToolSpec(name="calculate", description="Math.", parameters=CALC)
    system = PromptBuilder().build("hi", tools=[calculate])[0].content
    assert "- calculate" in system and system == PromptBuilder().system_text([calculate])


def test_calls_wrapped_in_double_braces_or_with_flat_arguments_parse() -> None:
    from tars_llm.toolcalls import parse_tool_calls

    wrapped = parse_tool_calls('{{"name": "calculate", "arguments": {"expression": "2+2"}}}', {"calculate"})
    assert [(c.name, c.arguments) for c in wrapped] == [("calculate", {"expression": "2+2"})]
    flat = parse_tool_calls('{"name": "calculate", "expression": "6*7"}', {"calculate"})
    assert [(c.name, c.arguments) for c in flat] == [("calculate", {"expression": "6*7"})]


def test_the_now_line_repeated_back_is_an_echo_not_an_answer() -> None:
    from tars_llm.repair import is_echo, may_become_echo

    asked = ("What is 12 times 7?", "Now: Monday, November 25, 2030, 3:07 PM CST")
    assert is_echo(asked, "(Now: Monday, November 25, 2030, 3:07 PM CST.)")
    assert may_become_echo(asked, "(Now: Monday, Nov")
    assert not is_echo(asked, "12 times 7 is 84.")
    assert not may_become_echo(asked, "12 times 7 is")
