"""The workers a turn depends on, whether they are up, and what to say when one fails."""

from __future__ import annotations

from tars.errors import TarsError

WATCHED = ("llm", "tools", "memory", "tts")
"""The workers whose status the router follows (through :class:`tars.runtime.Peers`)."""

APOLOGIES: dict[str, str] = {
    "llm_timeout": "My language model is taking too long to answer. Please try again.",
    "llm_busy": "I'm busy with other questions right now. Please ask me again in a moment.",
    "tool_slow": "A tool I needed took too long to answer, so I can't tell you that right now.",
    "tools_offline": "My tools are not running right now, so I can't answer that.",
    "llm_error": "Something went wrong while I was thinking about that. Please try again.",
    "tts_offline": "My voice is not working right now: the speech worker is down.",
    "connection_lost": "I lost my connection for a moment and missed the answer. Please ask again.",
}


def classify_llm_error(error: str) -> str:
    """The end reason for an LLM worker's ``error`` text: busy, a slow tool, or a failure."""
    low = error.lower()
    if low.startswith("busy") or "queue full" in low:
        return "llm_busy"
    if "tool" in low and ("in time" in low or "timeout" in low or "timed out" in low):
        return "tool_slow"
    return "llm_error"


class DependencyDown(TarsError):
    """A worker the turn waits for went away; ``reason`` is the turn's end reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

