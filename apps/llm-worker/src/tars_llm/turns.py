"""Turns in progress: a cancel token per correlation id, and waits that a cancel cuts short."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class TurnCancelled(Exception):
    """The turn was cancelled while it waited (for memory, a tool or the model)."""


@dataclass
class Turn:
    """One LLM request being served; ``token`` is read by the model thread between tokens."""

    correlation_id: str
    owner: str = ""
    """The instance that asked (a router): if it goes offline, nobody waits for the answer."""
    token: threading.Event = field(default_factory=threading.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def cancel(self) -> None:
        self.token.set()
        self.cancelled.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()


class TurnTable:
    """Turns by correlation id. A cancel that arrives before its request is remembered
    (bounded), so the request, when it comes, is answered ``cancelled`` at once."""

    def __init__(self, remember: int = 256) -> None:
        self._turns: dict[str, Turn] = {}
        self._early: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def __len__(self) -> int:
        return len(self._turns)

    def open(self, correlation_id: str, owner: str = "") -> Turn:
        turn = Turn(correlation_id, owner)
        self._turns[correlation_id] = turn
        if self._early.pop(correlation_id, 0) is None:
            turn.cancel()
        return turn

    def close(self, turn: Turn) -> None:
        if self._turns.get(turn.correlation_id) is turn:
            del self._turns[turn.correlation_id]

    def cancel(self, correlation_id: str) -> bool:
        """Cancel that turn; True if it was running (else remembered for a while)."""
        turn = self._turns.get(correlation_id)
        if turn is not None:
            turn.cancel()
            return True
        self._early[correlation_id] = None
        while len(self._early) > self._remember:
            self._early.popitem(last=False)
        return False

    def cancel_all(self, owner: str | None = None) -> int:
        """Cancel every turn (or those ``owner`` asked for); how many."""
        turns = [t for t in self._turns.values() if owner is None or t.owner == owner]
        for turn in turns:
            turn.cancel()
        return len(turns)


async def until_cancelled(turn: Turn, aw: Awaitable[T], *, grace_s: float = 0.0) -> T:
    """Await ``aw`` unless ``turn`` is cancelled first (then, after ``grace_s`` for ``aw`` to
    end by itself, it is cancelled and TurnCancelled raised)."""
    task = asyncio.ensure_future(aw)
    if turn.is_cancelled and grace_s == 0:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise TurnCancelled
    stop = asyncio.ensure_future(turn.cancelled.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done() and grace_s > 0:
            await asyncio.wait({task}, timeout=grace_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stop.cancel()
    if task.done():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise TurnCancelled


async def acquire_unless_cancelled(slots: asyncio.Semaphore, turn: Turn) -> bool:
    """Take a slot; False (holding none) if ``turn`` is cancelled while it waits."""
    try:
        await until_cancelled(turn, slots.acquire())
    except TurnCancelled:
        return False
    if turn.is_cancelled:
        slots.release()
        return False
    return True
