"""Which parts of a finished turn are worth remembering."""

from __future__ import annotations

from tars.contracts.turn import TurnResult

from .records import NewMemory

COMPLETED = frozenset({"completed", "done"})


def memories_from_turn(result: TurnResult, *, site: str, when: float, correlation_id: str,
                       source: str = "turn", include_intents: bool = False) -> list[NewMemory]:
    """The user's words of an LLM turn, and the reply when it completed without error.

    Local-intent turns (time, date, volume...) are skipped unless ``include_intents``;
    an error turn keeps only what the user said (its reply is a canned apology).
    """
    if result.path == "intent" and not include_intents:
        return []
    out: list[NewMemory] = []
    if result.text.strip():
        out.append(NewMemory(result.text.strip(), role="user", site=site, time=when,
                             correlation_id=correlation_id, source=source))
    if result.path != "error" and result.reason in COMPLETED and result.reply.strip():
        out.append(NewMemory(result.reply.strip(), role="assistant", site=site, time=when,
                             correlation_id=correlation_id, source=source))
    return out
