"""Per-site turn state machine: wake -> listen -> think -> speak -> follow-up, driven by a clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tars.runtime.clock import Clock, SystemClock
from tars_router.history import ConversationHistory, Exchange


class TurnState(StrEnum):
    """Where a site is in the conversation."""

    IDLE = "idle"
    AWAKE = "awake"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    FOLLOW_UP = "follow_up"


class EndReason(StrEnum):
    """Why a turn ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    BARGE_IN = "barge_in"
    NO_SPEECH = "no_speech"
    WAKE_TIMEOUT = "wake_timeout"
    LISTEN_TIMEOUT = "listen_timeout"
    THINK_TIMEOUT = "think_timeout"
    SPEAK_TIMEOUT = "speak_timeout"


class TurnWindows(BaseModel):
    """The turn windows, declared once: the router's settings (``[router]``) share these fields."""

    wake_window_s: float = Field(default=8.0, gt=0, description="After the wake word")
    listen_timeout_s: float = Field(default=15.0, gt=0, description="While listening")
    think_timeout_s: float = Field(default=60.0, gt=0, description="Whole LLM reply")
    speak_timeout_s: float = Field(default=60.0, gt=0, description="Silence from TTS while speaking")
    follow_up_window_s: float = Field(default=6.0, ge=0,
                                      description="Listen without the wake word; 0 = no follow-ups")
    history_turns: int = Field(default=6, ge=1, description="Exchanges kept as LLM history; when "
                               "full the oldest half goes (the prompt's start stays cached)")


class TurnConfig(TurnWindows):
    """The windows one turn machine runs with, in seconds (frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change, emitted by every event method that changed something."""

    site: str
    source: TurnState
    target: TurnState
    event: str
    at: float
    turn_id: str | None
    end_reason: EndReason | None = None


@dataclass(slots=True)
class Turn:
    """One turn: its stage timestamps (monotonic), the user's text and what was spoken."""

    turn_id: str
    site: str
    started_at: datetime
    started_mono: float
    follow_up: bool = False
    stages: list[tuple[str, float]] = field(default_factory=list)
    user_text: str = ""
    spoken: list[str] = field(default_factory=list)
    in_history: bool = True  # an apology for a failure is not part of the conversation
    offer_follow_up: bool = True  # after it ends, listen without the wake word (if configured)
    end_reason: EndReason | None = None

    def stamp(self, stage: str, at: float) -> None:
        """Record ``stage`` at monotonic time ``at``."""
        self.stages.append((stage, at))

    def timeline(self) -> list[tuple[str, float]]:
        """Stages with their offset in seconds from the start of the turn."""
        return [(stage, at - self.started_mono) for stage, at in self.stages]

    def format_timeline(self) -> str:
        """A printable timeline: one ``+offset stage`` line per stage, then the end reason."""
        head = f"turn {self.turn_id} site={self.site} at {self.started_at.isoformat()}"
        lines = [head] + [f"  +{offset:7.3f}s  {stage}" for stage, offset in self.timeline()]
        lines.append(f"  end: {self.end_reason or 'open'}")
        return "\n".join(lines)


_DEADLINES = {
    TurnState.AWAKE: ("wake_window_s", EndReason.WAKE_TIMEOUT),
    TurnState.LISTENING: ("listen_timeout_s", EndReason.LISTEN_TIMEOUT),
    TurnState.THINKING: ("think_timeout_s", EndReason.THINK_TIMEOUT),
    TurnState.SPEAKING: ("speak_timeout_s", EndReason.SPEAK_TIMEOUT),
}


class TurnMachine:
    """The turn state of one site. Pure: no I/O, time comes from the injected clock.

    Every event method returns the transitions it caused (empty when the event does not
    apply in the current state, for example a late TTS status after a cancel). Events may
    carry the ``turn_id`` they belong to; an event for another turn is ignored. Timeouts are
    applied by :meth:`tick`; :meth:`next_deadline` says when to call it next.
    """

    def __init__(self, site: str, config: TurnConfig | None = None, clock: Clock | None = None,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:12]) -> None:
        self.site = site
        self.config = config or TurnConfig()
        self._clock: Clock = clock or SystemClock()
        self._new_id = new_id
        self.history = ConversationHistory(self.config.history_turns)
        self.state = TurnState.IDLE
        self.turn: Turn | None = None
        self.last_turn: Turn | None = None
        self._entered = self._clock.monotonic()
        self._llm_done = False
        self._tts_active = False

    # -- events -----------------------------------------------------------------------------

    def wake(self, turn_id: str | None = None) -> list[Transition]:
        """The wake word was heard: a turn ``turn_id`` opens, awake. While thinking or speaking
        this is a barge-in; awake or listening, the listening window restarts, or, for a wake
        of its own id, the open turn ends ``no_speech`` first (what follows is heard with the
        new wake's id, and the turn must carry it)."""
        out: list[Transition] = []
        if self.state in (TurnState.THINKING, TurnState.SPEAKING):
            out += self._end(EndReason.BARGE_IN, TurnState.IDLE, "wake")
        elif self.state in (TurnState.AWAKE, TurnState.LISTENING):
            if turn_id is None or self.turn is None or self.turn.turn_id == turn_id:
                return self.keep_listening()
            out += self._end(EndReason.NO_SPEECH, TurnState.IDLE, "wake")
        self._begin(follow_up=False, turn_id=turn_id)
        out.append(self._move(TurnState.AWAKE, "wake"))
        return out

    def utterance(self, text: str, turn_id: str) -> list[Transition]:
        """A complete utterance (final transcript or typed text) that names its own turn.

        Awake or listening: the open turn takes ``turn_id``. Idle or in the follow-up window:
        a turn starts. Thinking or speaking: the current turn ends ``barge_in`` first.
        """
        out: list[Transition] = []
        if self.state in (TurnState.THINKING, TurnState.SPEAKING):
            out += self._end(EndReason.BARGE_IN, TurnState.IDLE, "utterance")
        if self.state in (TurnState.IDLE, TurnState.FOLLOW_UP):
            self._begin(follow_up=self.state is TurnState.FOLLOW_UP, turn_id=turn_id)
            self.state = TurnState.AWAKE  # silently: the utterance itself is the first stage
        assert self.turn is not None
        self.turn.turn_id = turn_id
        return out + self.transcript_final(text, turn_id)

    def heard(self, text: str, turn_id: str) -> list[Transition]:
        """A spoken final transcript, gated: it becomes the turn's question only after a wake
        (awake or listening: the open turn keeps its id, the wake's) or in the follow-up window
        (a turn ``turn_id`` starts). Anywhere else it is not for the assistant: nothing happens.
        """
        if self.state is TurnState.FOLLOW_UP:
            self._begin(follow_up=True, turn_id=turn_id)
            self.state = TurnState.LISTENING  # silently: the utterance is the first stage
        if self.state not in (TurnState.AWAKE, TurnState.LISTENING):
            return []
        assert self.turn is not None
        return self.transcript_final(text, self.turn.turn_id)

    def keep_listening(self) -> list[Transition]:
        """Awake or listening and the utterance held only the wake phrase: the window restarts."""
        if self.state in (TurnState.AWAKE, TurnState.LISTENING):
            self._entered = self._clock.monotonic()
        return []

    @property
    def listening(self) -> bool:
        """True while a spoken question is welcome: after a wake or in the follow-up window."""
        return self.state in (TurnState.AWAKE, TurnState.LISTENING, TurnState.FOLLOW_UP)

    def offer_follow_up(self, offer: bool, turn_id: str | None = None) -> None:
        """Whether this turn, when it completes, opens the follow-up window."""
        if self.turn is not None and self._mine(turn_id):
            self.turn.offer_follow_up = offer

    def keep_out_of_history(self, turn_id: str | None = None) -> None:
        """This turn failed (the reply is an apology): the LLM must not see it as conversation."""
        if self.turn is not None and self._mine(turn_id):
            self.turn.in_history = False

    def reply_delivered(self, text: str, turn_id: str | None = None) -> list[Transition]:
        """The reply reached the user without speech (shown as text): it enters the history."""
        if self.state in (TurnState.THINKING, TurnState.SPEAKING) and self._mine(turn_id):
            assert self.turn is not None
            if text.strip():
                self.turn.spoken.append(text.strip())
        return []

    def speech_started(self, turn_id: str | None = None) -> list[Transition]:
        """VAD found speech (on the site, whatever its id). In the follow-up window this starts
        a turn without the wake word, named ``turn_id`` (the utterance's id)."""
        if self.state is TurnState.FOLLOW_UP:
            self._begin(follow_up=True, turn_id=turn_id)
            return [self._move(TurnState.LISTENING, "speech_start")]
        if self.state is TurnState.AWAKE:
            return [self._move(TurnState.LISTENING, "speech_start")]
        return []

    def transcript_final(self, text: str, turn_id: str | None = None) -> list[Transition]:
        """The final transcript arrived; an empty one ends the turn with ``no_speech``."""
        if self.state not in (TurnState.AWAKE, TurnState.LISTENING) or not self._mine(turn_id):
            return []
        assert self.turn is not None
        self.turn.user_text = text.strip()
        if not self.turn.user_text:
            return self._end(EndReason.NO_SPEECH, TurnState.IDLE, "transcript_final")
        self._llm_done = self._tts_active = False
        return [self._move(TurnState.THINKING, "transcript_final")]

    def llm_chunk(self, turn_id: str | None = None) -> list[Transition]:
        """A reply chunk arrived; the first one is stamped on the timeline."""
        if self.state in (TurnState.THINKING, TurnState.SPEAKING) and self._mine(turn_id):
            assert self.turn is not None
            if not any(stage == "llm_first_chunk" for stage, _ in self.turn.stages):
                self.turn.stamp("llm_first_chunk", self._clock.monotonic())
        return []

    def llm_done(self, turn_id: str | None = None) -> list[Transition]:
        """The reply is complete (a local answer counts as a reply too)."""
        if self.state not in (TurnState.THINKING, TurnState.SPEAKING) or not self._mine(turn_id):
            return []
        assert self.turn is not None
        self._llm_done = True
        self.turn.stamp("llm_done", self._clock.monotonic())
        return self._maybe_complete("llm_done")

    def tts_started(self, turn_id: str | None = None) -> list[Transition]:
        """Audio for this turn started playing."""
        if self.state not in (TurnState.THINKING, TurnState.SPEAKING) or not self._mine(turn_id):
            return []
        self._tts_active = True
        if self.state is TurnState.THINKING:
            return [self._move(TurnState.SPEAKING, "tts_started")]
        self._entered = self._clock.monotonic()
        return []

    def sentence_spoken(self, text: str, turn_id: str | None = None) -> list[Transition]:
        """TTS confirms that ``text`` was played in full; only such text enters the history."""
        if self.state is TurnState.SPEAKING and self._mine(turn_id) and text.strip():
            assert self.turn is not None
            self.turn.spoken.append(text.strip())
            self._entered = self._clock.monotonic()
        return []

    def tts_ended(self, turn_id: str | None = None) -> list[Transition]:
        """Playback stopped (the queue ran dry or the reply is finished)."""
        if self.state is not TurnState.SPEAKING or not self._mine(turn_id):
            return []
        assert self.turn is not None
        self._tts_active = False
        self.turn.stamp("tts_ended", self._clock.monotonic())
        return self._maybe_complete("tts_ended")

    def cancel(self, reason: EndReason = EndReason.CANCELLED) -> list[Transition]:
        """Stop everything ("stop", a barge-in, an error): end the turn and go idle."""
        if self.state is TurnState.IDLE:
            return []
        if self.turn is None:
            return [self._move(TurnState.IDLE, "cancel")]
        return self._end(reason, TurnState.IDLE, "cancel")

    def tick(self) -> list[Transition]:
        """Apply whichever timeout has passed on the clock."""
        deadline = self.next_deadline()
        if deadline is None or self._clock.monotonic() < deadline:
            return []
        if self.state is TurnState.FOLLOW_UP:
            return [self._move(TurnState.IDLE, "follow_up_expired")]
        return self._end(_DEADLINES[self.state][1], TurnState.IDLE, "timeout")

    def next_deadline(self) -> float | None:
        """Monotonic time of the next timeout, or None when idle."""
        if self.state is TurnState.IDLE:
            return None
        if self.state is TurnState.FOLLOW_UP:
            return self._entered + self.config.follow_up_window_s
        window: float = getattr(self.config, _DEADLINES[self.state][0])
        return self._entered + window

    # -- internals --------------------------------------------------------------------------

    def _mine(self, turn_id: str | None) -> bool:
        return turn_id is None or (self.turn is not None and self.turn.turn_id == turn_id)

    def _begin(self, *, follow_up: bool, turn_id: str | None = None) -> None:
        now = self._clock.monotonic()
        self.turn = Turn(turn_id or self._new_id(), self.site, self._clock.now(), now, follow_up=follow_up)
        self._llm_done = self._tts_active = False

    def _move(self, target: TurnState, event: str) -> Transition:
        now = self._clock.monotonic()
        source, self.state, self._entered = self.state, target, now
        turn_id = self.turn.turn_id if self.turn else None
        if self.turn is not None and target is not TurnState.IDLE:
            self.turn.stamp(_STAGE_OF.get((source, target), target.value), now)
        return Transition(self.site, source, target, event, now, turn_id)

    def _maybe_complete(self, event: str) -> list[Transition]:
        if not self._llm_done or self._tts_active:
            return []
        offer = self.turn is not None and self.turn.offer_follow_up
        target = TurnState.FOLLOW_UP if offer and self.config.follow_up_window_s > 0 \
            else TurnState.IDLE
        return self._end(EndReason.COMPLETED, target, event)

    def _end(self, reason: EndReason, target: TurnState, event: str) -> list[Transition]:
        turn = self.turn
        assert turn is not None
        now = self._clock.monotonic()
        turn.end_reason = reason
        turn.stamp(f"end:{reason.value}", now)
        if turn.in_history and turn.user_text and (turn.spoken or reason is EndReason.COMPLETED):
            interrupted = reason is not EndReason.COMPLETED
            self.history.add(Exchange(turn.user_text, " ".join(turn.spoken), interrupted))
        source = self.state
        self.state, self._entered = target, now
        self.last_turn, self.turn = turn, None
        return [Transition(self.site, source, target, event, now, turn.turn_id, reason)]


_STAGE_OF = {
    (TurnState.IDLE, TurnState.AWAKE): "wake",
    (TurnState.FOLLOW_UP, TurnState.AWAKE): "wake",
    (TurnState.AWAKE, TurnState.LISTENING): "speech_start",
    (TurnState.FOLLOW_UP, TurnState.LISTENING): "speech_start",
    (TurnState.LISTENING, TurnState.THINKING): "transcript_final",
    (TurnState.AWAKE, TurnState.THINKING): "transcript_final",
    (TurnState.THINKING, TurnState.SPEAKING): "tts_started",
}
