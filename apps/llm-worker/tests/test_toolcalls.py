"""Tool-call parsing of JSON written as text, and the gate that keeps it from being spoken."""

from __future__ import annotations

import pytest

from tars_llm.toolcalls import ToolCallGate, parse_tool_calls

KNOWN = {"calculator", "get_time"}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "calculator", "arguments": {"expression": "12*7"}}',
        '  \n{"name": "calculator", "arguments": "{\\"expression\\": \\"12*7\\"}"}',
        '```json\n{"name": "calculator", "arguments": {"expression": "12*7"}}\n```',
        '```\n{"name": "calculator", "parameters": {"expression": "12*7"}}```',
        '<tool_call>\n{"name": "calculator", "arguments": {"expression": "12*7"}}\n</tool_call>',
        '<tool_call>{"name": "calculator", "arguments": {"expression": "12*7"}}',
        '{"type": "function", "function": {"name": "calculator", "arguments": {"expression": "12*7"}}}',
        'Sure, let me compute that. {"name": "calculator", "arguments": {"expression": "12*7"}}',
        '{"name": "calculator", "arguments": {"expression": "12*7"}',
    ],
)
def test_single_call_shapes(text: str) -> None:
    calls = parse_tool_calls(text, KNOWN)
    assert [(c.name, c.arguments) for c in calls] == [("calculator", {"expression": "12*7"})]
    assert calls[0].id.startswith("call_")


def test_list_and_multiple_tags() -> None:
    listed = '[{"name": "get_time", "arguments": {}}, {"name": "calculator", "arguments": {"expression": "1+1"}}]'
    tagged = (
        '<tool_call>{"name": "get_time", "arguments": {}}</tool_call>\n'
        '<tool_call>{"name": "calculator", "arguments": {"expression": "1+1"}}</tool_call>'
    )
    for text in (listed, tagged):
        calls = parse_tool_calls(text, KNOWN)
        assert [c.name for c in calls] == ["get_time", "calculator"]
        assert calls[1].arguments == {"expression": "1+1"}
        assert calls[0].id != calls[1].id


def test_unknown_names_are_dropped() -> None:
    assert parse_tool_calls('{"name": "launch_rocket", "arguments": {}}', KNOWN) == []
    mixed = '[{"name": "launch_rocket", "arguments": {}}, {"name": "get_time", "arguments": {}}]'
    assert [c.name for c in parse_tool_calls(mixed, KNOWN)] == ["get_time"]
    assert parse_tool_calls('{"name": "calculator", "arguments": {"expression": "2"}}', set()) == []


@pytest.mark.parametrize(
    "text",
    [
        "Twelve times seven is eighty-four.",
        '{"name": "calculator", "arguments": {"expression": }}',
        '{"name": calculator}',
        '{"name": "calculator", "arguments": "not json"}',
        '{"name": "calculator", "arguments": [1, 2]}',
        '{"arguments": {"expression": "1"}}',
        "[1, 2, 3] are numbers and {braces} are fine",
        "",
    ],
)
def test_plain_or_malformed_text_is_not_a_call(text: str) -> None:
    assert parse_tool_calls(text, KNOWN) == []


def _gate_run(deltas: list[str], is_call: bool) -> tuple[str, str]:
    gate = ToolCallGate()
    streamed = "".join(gate.push(d) for d in deltas)
    return streamed, gate.finish(is_call)


def test_gate_streams_plain_text_immediately() -> None:
    gate = ToolCallGate()
    assert gate.push("Hello") == "Hello"
    assert gate.push(" there.") == " there."
    assert gate.finish(False) == ""


def test_gate_holds_back_a_tool_call() -> None:
    streamed, rest = _gate_run(['{"na', 'me": "calculator"', "}"], is_call=True)
    assert (streamed, rest) == ("", "")
    streamed, rest = _gate_run(["Let me check. <tool", "_call>{...}"], is_call=True)
    assert (streamed, rest) == ("Let me check. ", "")


def test_gate_releases_held_text_that_was_no_call() -> None:
    streamed, rest = _gate_run(["Options: [a", "] or b."], is_call=False)
    assert streamed + rest == "Options: [a] or b."
    streamed, rest = _gate_run(["1 <", " 2 is true"], is_call=False)
    assert streamed == "1 < 2 is true" and rest == ""


def test_inactive_gate_passes_everything() -> None:
    gate = ToolCallGate(active=False)
    assert gate.push('{"x": 1}') == '{"x": 1}'
