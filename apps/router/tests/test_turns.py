"""The turn state machine, driven event by event with a manual clock."""

from __future__ import annotations

import itertools

import pytest

from tars.runtime.clock import ManualClock
from tars_router.history import ConversationHistory, Exchange
from tars_router.turns import EndReason, Transition, TurnConfig, TurnMachine, TurnState

CFG = TurnConfig(wake_window_s=5, listen_timeout_s=10, think_timeout_s=20, speak_timeout_s=30,
                 follow_up_window_s=4, history_turns=3)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def machine(clock: ManualClock) -> TurnMachine:
    ids = (f"t{i}" for i in itertools.count(1))
    return TurnMachine("kitchen", CFG, clock, new_id=lambda: next(ids))


def states(transitions: list[Transition]) -> list[tuple[TurnState, TurnState]]:
    return [(t.source, t.target) for t in transitions]


def run_turn(machine: TurnMachine, clock: ManualClock, user: str, sentences: list[str],
             *, wake: bool = True) -> None:
    if wake:
        machine.wake()
    clock.advance(0.5)
    machine.speech_started()
    clock.advance(1.5)
    machine.transcript_final(user)
    clock.advance(0.3)
    machine.llm_chunk()
    clock.advance(0.2)
    machine.tts_started()
    for sentence in sentences:
        clock.advance(1.0)
        machine.sentence_spoken(sentence)
    machine.llm_done()
    machine.tts_ended()


def test_full_turn_and_timeline(machine: TurnMachine, clock: ManualClock) -> None:
    out = machine.wake()
    assert states(out) == [(TurnState.IDLE, TurnState.AWAKE)]
    clock.advance(0.5)
    assert states(machine.speech_started()) == [(TurnState.AWAKE, TurnState.LISTENING)]
    clock.advance(1.5)
    assert states(machine.transcript_final("tell me a joke")) == [
        (TurnState.LISTENING, TurnState.THINKING)]
    clock.advance(0.3)
    assert machine.llm_chunk() == []
    clock.advance(0.2)
    assert states(machine.tts_started()) == [(TurnState.THINKING, TurnState.SPEAKING)]
    clock.advance(1.0)
    machine.sentence_spoken("Why did the robot cross the road?")
    assert machine.llm_done() == []  # still speaking
    clock.advance(1.0)
    machine.sentence_spoken("To get charged.")
    end = machine.tts_ended()
    assert states(end) == [(TurnState.SPEAKING, TurnState.FOLLOW_UP)]
    assert end[0].end_reason is EndReason.COMPLETED
    turn = machine.last_turn
    assert turn is not None and turn.turn_id == "t1"
    offsets = dict(turn.timeline())
    assert offsets == pytest.approx({
        "wake": 0.0, "speech_start": 0.5, "transcript_final": 2.0, "llm_first_chunk": 2.3,
        "tts_started": 2.5, "llm_done": 3.5, "tts_ended": 4.5, "end:completed": 4.5})
    printed = turn.format_timeline()
    assert "+  2.300s  llm_first_chunk" in printed and "end: completed" in printed
    assert list(machine.history) == [
        Exchange("tell me a joke", "Why did the robot cross the road? To get charged.")]


def test_follow_up_without_wake_word(machine: TurnMachine, clock: ManualClock) -> None:
    run_turn(machine, clock, "what is two plus two", ["Four."])
    assert machine.state is TurnState.FOLLOW_UP
    clock.advance(3.9)
    assert machine.tick() == []
    out = machine.speech_started()
    assert states(out) == [(TurnState.FOLLOW_UP, TurnState.LISTENING)]
    assert machine.turn is not None and machine.turn.follow_up
    out = machine.transcript_final("and times three")
    assert states(out) == [(TurnState.LISTENING, TurnState.THINKING)]


def test_follow_up_window_expires(machine: TurnMachine, clock: ManualClock) -> None:
    run_turn(machine, clock, "hi", ["Hello."])
    assert machine.next_deadline() == pytest.approx(clock.monotonic() + 4)
    clock.advance(4.0)
    out = machine.tick()
    assert states(out) == [(TurnState.FOLLOW_UP, TurnState.IDLE)]
    assert out[0].event == "follow_up_expired"
    assert machine.speech_started() == []  # no wake word: ignored
    assert machine.state is TurnState.IDLE and machine.next_deadline() is None


def test_follow_up_can_be_disabled(clock: ManualClock) -> None:
    machine = TurnMachine("den", TurnConfig(follow_up_window_s=0), clock)
    run_turn(machine, clock, "hi", ["Hello."])
    assert machine.state is TurnState.IDLE


@pytest.mark.parametrize(
    ("steps", "wait", "reason"),
    [([], 5.0, EndReason.WAKE_TIMEOUT),
     (["speech"], 10.0, EndReason.LISTEN_TIMEOUT),
     (["speech", "final"], 20.0, EndReason.THINK_TIMEOUT),
     (["speech", "final", "tts"], 30.0, EndReason.SPEAK_TIMEOUT)],
)
def test_timeouts(machine: TurnMachine, clock: ManualClock, steps: list[str], wait: float,
                  reason: EndReason) -> None:
    machine.wake()
    actions = {"speech": machine.speech_started, "tts": machine.tts_started,
               "final": lambda: machine.transcript_final("hello")}
    for step in steps:
        actions[step]()
    clock.advance(wait - 0.01)
    assert machine.tick() == []
    clock.advance(0.01)
    out = machine.tick()
    assert [t.end_reason for t in out] == [reason]
    assert machine.state is TurnState.IDLE
    assert machine.last_turn is not None and machine.last_turn.end_reason is reason


def test_speaking_timeout_is_reset_by_progress(machine: TurnMachine, clock: ManualClock) -> None:
    machine.wake()
    machine.transcript_final("long story")
    machine.tts_started()
    for _ in range(5):
        clock.advance(25)
        machine.sentence_spoken("More of the story.")
        assert machine.tick() == []
    assert machine.state is TurnState.SPEAKING


def test_barge_in_truncates_history_to_what_was_spoken(machine: TurnMachine,
                                                       clock: ManualClock) -> None:
    machine.wake()
    machine.transcript_final("tell me about mars")
    machine.tts_started()
    machine.sentence_spoken("Mars is the fourth planet.")
    # the LLM has produced more sentences, but they were never played
    out = machine.wake()
    assert states(out) == [(TurnState.SPEAKING, TurnState.IDLE), (TurnState.IDLE, TurnState.AWAKE)]
    assert out[0].end_reason is EndReason.BARGE_IN
    assert list(machine.history) == [
        Exchange("tell me about mars", "Mars is the fourth planet.", interrupted=True)]
    assert machine.turn is not None and machine.turn.turn_id == "t2"


def test_stale_events_of_an_old_turn_are_ignored(machine: TurnMachine) -> None:
    machine.wake()
    machine.transcript_final("first")
    machine.tts_started()
    machine.wake()  # barge-in: t1 ends, t2 begins
    assert machine.sentence_spoken("late sentence of t1", turn_id="t1") == []
    assert machine.tts_ended(turn_id="t1") == []
    assert machine.transcript_final("second", turn_id="t1") == []
    assert machine.state is TurnState.AWAKE
    assert states(machine.transcript_final("second", turn_id="t2")) == [
        (TurnState.AWAKE, TurnState.THINKING)]


def test_cancel_and_empty_transcript(machine: TurnMachine) -> None:
    assert machine.cancel() == []
    machine.wake()
    out = machine.transcript_final("   ")
    assert [t.end_reason for t in out] == [EndReason.NO_SPEECH]
    machine.wake()
    machine.transcript_final("stop")
    out = machine.cancel()
    assert [t.end_reason for t in out] == [EndReason.CANCELLED]
    assert len(machine.history) == 0  # nothing was said back, nothing to remember


def test_a_second_wake_before_any_speech_opens_a_turn_of_its_own_id(machine: TurnMachine) -> None:
    machine.wake("w1")
    assert [t.end_reason for t in machine.wake("w1")] == []  # the same wake again: keeps listening
    out = machine.wake("w2")
    assert [(t.turn_id, t.end_reason) for t in out] == [("w1", EndReason.NO_SPEECH),
                                                        ("w2", None)]
    assert machine.state is TurnState.AWAKE and machine.turn is not None
    assert machine.turn.turn_id == "w2"
    machine.wake()  # no id: the window restarts
    assert machine.turn.turn_id == "w2"


def test_tts_gap_does_not_end_the_turn_before_llm_is_done(machine: TurnMachine) -> None:
    machine.wake()
    machine.transcript_final("explain")
    machine.tts_started()
    machine.sentence_spoken("First part.")
    assert machine.tts_ended() == []  # TTS ran dry while the LLM is still writing
    assert machine.state is TurnState.SPEAKING
    machine.tts_started()
    machine.sentence_spoken("Second part.")
    machine.llm_done()
    assert [t.end_reason for t in machine.tts_ended()] == [EndReason.COMPLETED]
    assert machine.history.last_reply() == "First part. Second part."


def test_reply_without_speech_completes(machine: TurnMachine) -> None:
    machine.wake()
    machine.transcript_final("volume up")
    out = machine.llm_done()
    assert [t.end_reason for t in out] == [EndReason.COMPLETED]
    assert list(machine.history) == [Exchange("volume up", "")]


def test_history_is_bounded(machine: TurnMachine, clock: ManualClock) -> None:
    for i in range(5):
        run_turn(machine, clock, f"question {i}", [f"Answer {i}."])
        clock.advance(10)
        machine.tick()
    assert [e.user for e in machine.history] == ["question 2", "question 3", "question 4"]
    assert machine.history.messages()[-2:] == [
        {"role": "user", "content": "question 4"}, {"role": "assistant", "content": "Answer 4."}]


def test_a_full_history_drops_its_oldest_half_so_its_start_stays_put() -> None:
    history = ConversationHistory(6)
    firsts = []
    for i in range(12):
        history.add(Exchange(f"q{i}", f"a{i}"))
        firsts.append(next(iter(history)).user)
    assert [e.user for e in history] == ["q6", "q7", "q8", "q9", "q10", "q11"]
    # the first exchange (the prompt's start) changed twice in 12 turns, not every turn once full
    assert firsts == ["q0"] * 6 + ["q3"] * 3 + ["q6"] * 3


def test_bad_configs() -> None:
    with pytest.raises(ValueError):
        TurnConfig(wake_window_s=0)
    with pytest.raises(ValueError):
        TurnConfig(history_turns=0)
    with pytest.raises(ValueError):
        ConversationHistory(0)


def test_failed_turns_stay_out_of_the_history() -> None:
    from tars.runtime.clock import ManualClock
    from tars_router.turns import TurnConfig, TurnMachine

    m = TurnMachine("s", TurnConfig(), ManualClock(), lambda: "t1")
    m.utterance("how far is the moon", "t1")
    m.keep_out_of_history("t1")
    m.reply_delivered("I can't reach my language model right now.", "t1")
    m.llm_done("t1")
    m.tts_ended("t1")
    assert m.history.messages() == []
