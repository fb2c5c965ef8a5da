"""Parse tool calls that small models write as JSON text in their answer."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Iterator
from typing import Any

from tars_llm.types import JSONDict, ModelToolCall

_TAG_RE = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_FENCE_RE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)
_DECODER = json.JSONDecoder()
# Markers a tool call may start with (besides { and [); such text is held back, not spoken.
_TAG_PREFIXES = ("```", "<tool_call>")


def new_call_id() -> str:
    """Return a fresh OpenAI-style tool call id."""
    return "call_" + uuid.uuid4().hex[:16]


class ToolCallGate:
    """Streams reply text but holds back anything from where a tool call may begin.

    Text before the first ``{``, ``[``, code fence or ``<tool_call>`` flows through at once; from
    there on it is held until the reply ends, then either dropped (it was a tool call) or
    released (it was a plain answer).
    """

    def __init__(self, active: bool = True) -> None:
        self._active = active
        self._held = ""
        self._holding = False

    def push(self, text: str) -> str:
        """Add a delta; return the text that may be spoken now."""
        self._held += text
        if not self._active:
            out, self._held = self._held, ""
            return out
        if self._holding:
            return ""
        index, definite = _call_start(self._held)
        self._holding = definite
        out, self._held = self._held[:index], self._held[index:]
        return out

    def finish(self, is_tool_call: bool) -> str:
        """End of the reply: return the held text unless it was a tool call."""
        out, self._held = ("" if is_tool_call else self._held), ""
        return out


def _call_start(text: str) -> tuple[int, bool]:
    """(index from which ``text`` may be a tool call, whether that is certain)."""
    for i, char in enumerate(text):
        if char in "{[":
            return i, True
        for prefix in _TAG_PREFIXES:
            if text.startswith(prefix, i):
                return i, True
            if prefix.startswith(text[i:]):
                return i, False
    return len(text), False


def parse_tool_calls(text: str, known: Collection[str]) -> list[ModelToolCall]:
    """Return the calls of known tools written in ``text``; [] means a plain answer.

    Accepted shapes: a JSON object ``{"name": ..., "arguments": {...}}`` (``parameters`` or an
    OpenAI ``{"function": {...}}`` wrapper also work, arguments may be a JSON string), a JSON
    list of such objects, each optionally inside ``<tool_call>`` tags or a ```json fence.
    Calls naming an unknown tool are dropped.
    """
    calls: list[ModelToolCall] = []
    for value in _json_values(text):
        for obj in value if isinstance(value, list) else [value]:
            call = _to_call(obj)
            if call is not None and call.name in known:
                calls.append(call)
    return calls


def looks_like_call(text: str) -> bool:
    """True if ``text`` holds a tool-call-shaped JSON object, known tool or not."""
    return any(_to_call(obj) is not None
               for value in _json_values(text)
               for obj in (value if isinstance(value, list) else [value]))


def _json_values(text: str) -> Iterator[Any]:
    """Yield JSON values found in tags, fences, or the bare text (first source that has any)."""
    for pattern in (_TAG_RE, _FENCE_RE):
        chunks = [m.group(1) for m in pattern.finditer(text)]
        values = [v for chunk in chunks for v in _scan(chunk)]
        if values:
            yield from values
            return
    yield from _scan(text)


def _scan(text: str) -> Iterator[Any]:
    """Yield every top-level JSON object or list in ``text``, repairing missing closers."""
    pos = 0
    while pos < len(text):
        starts = [i for i in (text.find("{", pos), text.find("[", pos)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        value, end = _decode_at(text, start)
        if end is None:
            pos = start + 1
            continue
        yield value
        pos = end


def _decode_at(text: str, start: int) -> tuple[Any, int | None]:
    """Decode one JSON value at ``start``; retry with up to two missing ``}`` appended."""
    try:
        return _DECODER.raw_decode(text, start)
    except json.JSONDecodeError:
        pass
    tail = text[start:].rstrip()
    for extra in ("}", "}}", "}]", "}}]"):
        try:
            value, _ = _DECODER.raw_decode(tail + extra)
        except json.JSONDecodeError:
            continue
        return value, len(text)
    return None, None


def _to_call(obj: Any) -> ModelToolCall | None:
    """Convert one decoded JSON object into a ModelToolCall, or None if it is not one."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None
    if "arguments" in obj or "parameters" in obj:
        args = obj.get("arguments", obj.get("parameters"))
    else:  # small models often write the arguments beside the name
        args = {k: v for k, v in obj.items() if k not in ("name", "type", "id")}
    parsed = parse_arguments(args)
    if parsed is None:
        return None
    return ModelToolCall(id=new_call_id(), name=name, arguments=parsed)


def parse_arguments(args: Any) -> JSONDict | None:
    """Return tool arguments as a dict (they may arrive as a JSON string); None if invalid."""
    if args is None or args == "":
        return {}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None
    return args if isinstance(args, dict) else None
