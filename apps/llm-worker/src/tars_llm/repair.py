"""Repair tool arguments a small model got wrong, and spot a reply that only echoes the question."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from tars_llm.types import JSONDict

SCHEMA_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "description", "title", "$schema",
    "items", "enum", "default", "anyOf", "oneOf", "allOf", "minimum", "maximum", "minLength",
    "maxLength", "format",
})
_WORD = re.compile(r"[\w']+")


def repair_arguments(arguments: JSONDict, schema: JSONDict) -> tuple[JSONDict, list[str]]:
    """(arguments fit for ``schema``, the keys dropped or changed).

    A tool without parameters gets ``{}`` whatever was written (the model often echoes the
    schema: ``{"type": "object"}``). Otherwise a schema echoed around real values
    (``{"properties": {"expression": "2+2"}}``) is unwrapped, schema keywords that are not
    parameters are dropped, and so are unknown keys when the schema forbids them, and values
    that are themselves schema fragments (``{"type": "string"}``). A number given for a string
    parameter becomes its text (``84`` -> ``"84"``) and a numeric text given for a number
    parameter its number; those keys are reported too.
    """
    props = schema.get("properties")
    if not isinstance(props, dict) or not props:
        return {}, sorted(arguments)
    args = dict(arguments)
    inner = args.get("properties")
    if "properties" not in props and isinstance(inner, dict):
        args = {**{k: v for k, v in args.items() if k != "properties"}, **inner}
    strict = schema.get("additionalProperties") is False
    out: JSONDict = {}
    changed: list[str] = []
    for key, value in args.items():
        if key in props:
            unfit = _is_schema_fragment(value) and _wants_scalar(props[key])
        else:
            unfit = strict or key in SCHEMA_KEYWORDS
        if unfit:
            changed.append(key)
            continue
        fitted = _coerced(value, props.get(key))
        if fitted is not value:
            changed.append(key)
        out[key] = fitted
    return out, changed


def _coerced(value: Any, sub: Any) -> Any:
    """``value`` in the scalar type ``sub`` declares, when it is plainly the same thing."""
    wanted = sub.get("type") if isinstance(sub, dict) else None
    if wanted == "string" and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if wanted in ("integer", "number") and isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if wanted == "number" and re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+)", text):
            return float(text)
    return value


def _is_schema_fragment(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= SCHEMA_KEYWORDS


def _wants_scalar(sub: Any) -> bool:
    return not (isinstance(sub, dict) and sub.get("type") == "object")


_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
NUMBER_WORDS: dict[str, int] = {
    **{w: n for n, w in enumerate(_UNITS)}, **{w: 20 + 10 * n for n, w in enumerate(_TENS)},
    "a": 1, "an": 1, "couple": 2, "quarter": 15, "half": 30, "hundred": 100,
}
"""Words that say a small number ("an hour", "half an hour", "twenty five minutes")."""


def said_numbers(text: str) -> set[int]:
    """The whole numbers ``text`` mentions, in digits or words ("twenty five" gives 20, 5, 25)."""
    found = {int(d) for d in re.findall(r"\d+", text)}
    spoken = [NUMBER_WORDS.get(w) for w in re.findall(r"[a-z]+", text.lower())]
    for i, n in enumerate(spoken):
        if n is None:
            continue
        found.add(n)
        after = spoken[i + 1] if i + 1 < len(spoken) else None
        if 20 <= n <= 90 and after is not None and 0 < after < 10:
            found.add(n + after)
    return found


def ungrounded(arguments: JSONDict, schema: JSONDict, said: str) -> list[str]:
    """Integer arguments the user never said (a small model copies numbers from elsewhere, such
    as the Now line, and calls a tool nobody asked for): their keys. Zero needs no mention."""
    props = schema.get("properties")
    if not isinstance(props, dict):
        return []
    numbers = said_numbers(said)
    return [key for key, value in arguments.items()
            if isinstance(props.get(key), dict) and props[key].get("type") == "integer"
            and isinstance(value, int) and not isinstance(value, bool) and value != 0
            and value not in numbers]


def words(text: str) -> list[str]:
    """Lower-case words of ``text`` (punctuation and case ignored)."""
    return _WORD.findall(text.casefold())


def is_echo(question: str | Sequence[str], reply: str) -> bool:
    """True if ``reply`` is the question (or most of it, or any of the texts given, such as the
    turn's Now line) repeated rather than an answer."""
    if not isinstance(question, str):
        return any(is_echo(q, reply) for q in question)
    q, r = words(question), words(reply)
    if len(q) < 2 or not r or len(r) > len(q):
        return False
    if r == q[: len(r)]:
        return len(r) >= max(2, round(0.6 * len(q)))
    return difflib.SequenceMatcher(None, q, r).ratio() >= 0.85


def may_become_echo(question: str | Sequence[str], partial: str) -> bool:
    """True while the reply so far is a prefix of the question, or of any text given."""
    if not isinstance(question, str):
        return any(may_become_echo(q, partial) for q in question)
    q, r = words(question), words(partial)
    if len(q) < 2:
        return False
    if not r:
        return True
    if len(r) > len(q):
        return False
    head, last = r[:-1], r[-1]  # the last word may be cut mid-way
    return q[: len(head)] == head and q[len(r) - 1].startswith(last)
