"""Which spoken transcripts are for the assistant: after the wake word, in a follow-up, or "stop"."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from tars.runtime.clock import Clock
from tars_router.intents import Intent, IntentMatcher, IntentName
from tars_router.turns import TurnMachine, TurnState
from tars_router.wakephrase import WakePhrases


class Verdict(StrEnum):
    """What a final transcript means for its site."""

    TURN = "turn"                     # the question of the open turn, or a follow-up turn
    WAKE_ONLY = "wake_only"           # nothing but the wake phrase: keep listening
    STOP = "stop"                     # "stop" while a reply is under way: stop it, quietly
    TRANSCRIPTION = "transcription"   # a client asked for text only: never a turn
    NO_WAKE = "no_wake"               # outside any window: not meant for the assistant
    BUSY = "busy"                     # speech during a reply that is not a stop command


@dataclass(frozen=True, slots=True)
class Gated:
    """A verdict, the text with its leading wake phrase stripped, and its local intent."""

    verdict: Verdict
    text: str
    intent: Intent | None = None
    reopen: bool = False  # a late final of a wake whose window has just closed


class Gate:
    """Judges finals against the site's turn machine; remembers recent wakes by id.

    A final of the site is the question while the site listens after a wake, whatever its
    correlation id; a final that carries the id of a wake heard less than ``late_s`` ago
    still opens that wake's turn after its window closed (the user was still talking).
    """

    def __init__(self, phrases: WakePhrases, matcher: IntentMatcher, clock: Clock,
                 late_s: float, remember: int = 64) -> None:
        self.phrases = phrases
        self.matcher = matcher
        self._clock = clock
        self._late_s = late_s
        self._remember = remember
        self._wakes: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def woke(self, site: str, wake_id: str) -> None:
        """A wake word (purpose "turn") was heard on ``site``; ``wake_id`` is its turn id."""
        self._wakes[wake_id] = (site, self._clock.monotonic())
        self._wakes.move_to_end(wake_id)
        while len(self._wakes) > self._remember:
            self._wakes.popitem(last=False)

    def judge(self, machine: TurnMachine, text: str, cid: str, purpose: str = "turn") -> Gated:
        """The verdict for a final ``text`` with correlation id ``cid`` on ``machine``'s site."""
        if purpose != "turn":
            return Gated(Verdict.TRANSCRIPTION, text)
        stripped = self.phrases.strip(text)
        if not stripped and self.phrases.only_wake(text):
            busy = machine.state in (TurnState.THINKING, TurnState.SPEAKING)
            return Gated(Verdict.BUSY if busy else Verdict.WAKE_ONLY, "")
        intent = self.matcher.match(stripped) if stripped else None
        if machine.state in (TurnState.THINKING, TurnState.SPEAKING):
            stop = intent is not None and intent.name is IntentName.STOP
            return Gated(Verdict.STOP if stop else Verdict.BUSY, stripped, intent)
        if machine.listening:
            return Gated(Verdict.TURN, stripped, intent)
        if self._late(machine.site, cid):
            return Gated(Verdict.TURN, stripped, intent, reopen=True)
        return Gated(Verdict.NO_WAKE, stripped, intent)

    def _late(self, site: str, cid: str) -> bool:
        seen = self._wakes.get(cid)
        return seen is not None and seen[0] == site \
            and self._clock.monotonic() - seen[1] <= self._late_s
