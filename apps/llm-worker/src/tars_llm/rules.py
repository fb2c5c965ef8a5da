"""The tool part of the system prompt: one short rule per tool, and compact argument schemas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tars.contracts.tools import ToolSpec
from tars_llm.types import JSONDict

KNOWN_RULES: dict[str, str] = {
    "get_time": "the time or date, only if the Now line is missing",
    "calculate": "any arithmetic; never work it out yourself",
    "set_timer": 'a countdown; 5 minutes is {"minutes": 5}',
    "set_alarm": 'an alarm at a clock time; wake me at 7 is {"time": "7:00"}',
    "list_timers": "which timers or alarms are set",
    "cancel_timer": "cancel or stop a timer or alarm",
    "remember": "the user says 'remember ...': store that fact",
    "recall": "the user asks what you remember about them",
}
"""Rules for the built-in tools; another tool's rule is its own description."""

CLOSING_RULE = "Otherwise answer without a tool."
_KEEP = ("type", "properties", "required", "description", "enum", "items")
_NOTE_MAX = 60


CALL_FORMAT = ('To call a tool, answer only with {"name": "<tool>", "arguments": {...}}. '
               "Tools, each with its arguments and when to call it:")


def tool_rules(tools: Sequence[ToolSpec]) -> str:
    """How to call, then ``- name {arguments}: when to call it`` per tool, then the closing
    rule ("" without tools). This block is the whole tool prompt of the compact style."""
    if not tools:
        return ""
    lines = [CALL_FORMAT]
    for tool in tools:
        rule = KNOWN_RULES.get(tool.name) or " ".join(tool.description.split()).rstrip(".")
        lines.append(f"- {tool.name} {signature(tool.parameters)}: {rule}.")
    lines.append("The Now line gives the current date and time. " + CLOSING_RULE)
    return "\n".join(lines)


def signature(schema: JSONDict) -> str:
    """``{"time": string (Clock time, e.g. '07:30'), "label"?: string}`` for a JSON schema."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict) or not props:
        return "{}"
    required = set(schema.get("required") or ())
    parts = []
    for name, sub in props.items():
        sub = compact_schema(sub) if isinstance(sub, dict) and "properties" in sub else _compact(sub)
        kind = sub.get("type", "any") if isinstance(sub, dict) else "any"
        if isinstance(sub, dict) and isinstance(sub.get("enum"), list):
            kind = "|".join(str(v) for v in sub["enum"])
        note = sub.get("description", "") if isinstance(sub, dict) else ""
        mark = "" if name in required else "?"
        text = f'"{name}"{mark}: {kind}'
        if note and len(note) <= _NOTE_MAX:
            text += f" ({note})"
        parts.append(text)
    return "{" + ", ".join(parts) + "}"


def compact_schema(schema: JSONDict) -> JSONDict:
    """The argument schema without what costs tokens and tells a small model little:
    titles, defaults, bounds, ``additionalProperties``; ``anyOf [X, null]`` becomes ``X``."""
    out: JSONDict = _compact(schema)
    props = out.get("properties")
    if not props:
        return {"type": "object", "properties": {}}
    out.pop("description", None)
    return out


def _compact(node: Any) -> Any:
    if isinstance(node, list):
        return [_compact(v) for v in node]
    if not isinstance(node, dict):
        return node
    options = node.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        if len(kept) == 1 and isinstance(kept[0], dict):
            merged = {**kept[0], **{k: v for k, v in node.items() if k != "anyOf"}}
            return _compact(merged)
    out: JSONDict = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _compact(sub) for name, sub in value.items()}
        elif key in _KEEP:
            out[key] = _compact(value)
    return out
