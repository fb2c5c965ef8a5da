"""Which parts of a finished turn are worth remembering: what the user stated, never a reply."""

from __future__ import annotations

import re

from tars.contracts.turn import TurnResult

from .records import NewMemory

_ASKING = re.compile(
    r"^\s*(?:what|what's|whats|who|who's|whom|whose|when|where|where's|why|how|how's|which|"
    r"is|are|was|were|am|do|does|did|can|could|will|would|shall|should|may|might|have|has|"
    r"tell me|show me|give me|set|start|stop|cancel|turn|play|pause|remind|wake|calculate|"
    r"compute|please|hey|ok|okay)\b",
    re.IGNORECASE)


def is_request(text: str) -> bool:
    """True for a question or a command (nothing to remember), False for a statement."""
    stripped = text.strip()
    return stripped.endswith("?") or bool(_ASKING.match(stripped))


def memories_from_turn(result: TurnResult, *, site: str, when: float, correlation_id: str,
                       source: str = "turn", include_intents: bool = False) -> list[NewMemory]:
    """What the user stated in an LLM turn (role ``user``, with site and time).

    Questions and commands are not stored (a past question handed back by RAG is taken for
    the current one), nor is any reply: an assistant's answer, right or wrong, must never come
    back as a fact. Local-intent turns are skipped unless ``include_intents``.
    """
    if result.path == "intent" and not include_intents:
        return []
    text = result.text.strip()
    if not text or is_request(text):
        return []
    return [NewMemory(text, role="user", site=site, time=when, correlation_id=correlation_id,
                      source=source)]
