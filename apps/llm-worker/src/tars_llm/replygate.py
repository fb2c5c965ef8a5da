"""What of a model's reply may be spoken while it is generated, and what must wait for its end."""

from __future__ import annotations

from collections.abc import Sequence

from tars_llm.repair import may_become_echo
from tars_llm.toolcalls import ToolCallGate


class ReplyGate:
    """Streams reply text except what the end of the reply may still take back.

    Held back: anything from where a tool call may begin (ToolCallGate); while ``question``
    is set, text that so far only repeats the question (it may be an echo, not an answer);
    with ``hold``, everything (the turn's answer depends on how the reply ends, e.g. after a
    failed tool). ``finish`` returns the held text; the caller decides whether to speak it.
    """

    def __init__(self, *, tools: bool, question: str | Sequence[str] | None = None,
                 hold: bool = False) -> None:
        self._calls = ToolCallGate(active=tools)
        self._question = question
        self._hold = hold
        self._echo_open = bool(question)
        self._held = ""
        self.released = ""
        """Everything ``push`` let through so far."""

    def push(self, text: str) -> str:
        """Add a delta; return the text that may be spoken now."""
        out = self._calls.push(text)
        if not out:
            return ""
        if self._hold or self._echo_open:
            self._held += out
            if self._hold or may_become_echo(self._question or "", self._held):
                return ""
            self._echo_open = False
            out, self._held = self._held, ""
        self.released += out
        return out

    def finish(self, is_tool_call: bool) -> str:
        """End of the reply: the held text (without a tool call's JSON)."""
        rest, self._held = self._held + self._calls.finish(is_tool_call), ""
        return rest

    @property
    def still_echo(self) -> bool:
        """True if nothing was released because the reply only ever repeated the question."""
        return self._echo_open
