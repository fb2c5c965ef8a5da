"""A spoken conversation through a virtual sound card, as a person in the room has it.

`tars up` runs every worker on a private PulseAudio "mic" and "speaker" (tars.testing.soundcard);
speech generated at test time is played into the mic in real time and the speaker is recorded.
Each interaction is checked on content: the transcript, the reply, and the reply re-transcribed
from the recorded speaker signal. The suite passes when at least 19 of 20 come out right; the
table of every interaction is printed either way.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tars.audio.pcm import SAMPLE_RATE
from tars.contracts import topics as T
from tars.contracts.tts import TtsSay, TtsStatus
from tars.testing.acoustic import LOUD, AcousticStack, Heard, speech_of
from tars.testing.fixtures import require_sound_card
from tars.testing.soundcard import virtual_sound_card
from tars.testing.speech import piper, with_silence, words

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.acoustic,
              pytest.mark.timeout(1800)]

WAKE = "Hey Jarvis,"


def spoken(text: str, *, wake: bool = True, pause_s: float | None = None) -> Any:
    """The request as a person says it: the wake word in one breath, or a pause after it."""
    if not wake:
        return with_silence(piper(text), before_s=0.2, after_s=0.3)
    if pause_s is None:
        return with_silence(piper(f"{WAKE} {text}"), before_s=0.2, after_s=0.3)
    gap = np.zeros(int(pause_s * SAMPLE_RATE), dtype=np.int16)
    return with_silence(np.concatenate([piper("Hey Jarvis."), gap, piper(text)]),
                        before_s=0.2, after_s=0.3)


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str


class Room:
    """The stack, a Whisper to listen to the speaker with, and the checks."""

    def __init__(self, stack: AcousticStack, whisper: Any) -> None:
        self.stack, self.whisper = stack, whisper
        self.v2v: dict[str, list[float]] = {"intent": [], "llm": []}

    async def hear(self, heard: Heard) -> str:
        """The reply as Whisper hears it on the recorded speaker signal."""
        if heard.speaker is None or heard.reply_onset_ts is None:
            return ""
        audio = speech_of(heard.speaker, heard.reply_onset_ts - 0.1)
        if audio.size < SAMPLE_RATE // 4:
            return ""
        result = await asyncio.to_thread(self.whisper.transcribe, audio)
        return str(result.text)

    async def ask(self, text: str, **kw: Any) -> tuple[Heard, str]:
        heard = await self.stack.ask(spoken(text, **kw), text)
        if heard.result is not None and heard.voice_to_voice_ms is not None:
            self.v2v.setdefault(heard.result.path, []).append(heard.voice_to_voice_ms)
        return heard, await self.hear(heard)


def _words(text: str) -> set[str]:
    """Words and numbers, however Whisper writes a number or a clock time (tars.testing.speech)."""
    return set(words(text.replace("%", " percent")))


def _close(word: str, heard: set[str]) -> bool:
    """``word`` was heard, allowing Whisper's spelling of a name ("Paris" / "Harris")."""
    return word in heard or (not word.isdigit() and any(
        SequenceMatcher(None, word, h).ratio() >= 0.7 for h in heard))


def matches(reply: str, heard: str) -> bool:
    """The speaker said the reply: most of its words are in what Whisper heard."""
    want = _words(reply) - {"a", "the", "is", "its", "am", "pm"}
    got = _words(heard)
    return bool(want) and sum(_close(w, got) for w in want) >= 0.6 * len(want)


def says_time_now(reply: str) -> bool:
    now = datetime.now().astimezone()
    shown = {f"{(now + timedelta(minutes=d)).hour % 12 or 12}:{(now + timedelta(minutes=d)).minute:02d}"
             for d in (-1, 0, 1)}
    return any(s in reply for s in shown)


def describe(heard: Heard, spoken_back: str) -> str:
    res = heard.result
    return (f"heard={heard.transcript!r} reply={heard.reply!r} path={res.path if res else None} "
            f"intent={res.intent if res else None} speaker={spoken_back!r} "
            f"v2v={heard.voice_to_voice_ms}")


Scenario = Callable[[Room], Awaitable[Outcome]]


async def one_breath_time(room: Room) -> Outcome:
    heard, back = await room.ask("what time is it?")
    res = heard.result
    ok = (res is not None and res.path == "intent" and res.intent == "time"
          and says_time_now(res.reply) and "jarvis" not in heard.transcript.lower()
          and matches(res.reply, back))
    return Outcome("wake + time in one breath", ok, describe(heard, back))


async def pause_then_date(room: Room) -> Outcome:
    heard, back = await room.ask("What's the date today?", pause_s=1.0)
    res = heard.result
    now = datetime.now().astimezone()
    days = {f"{d:%A}" for d in (now, now - timedelta(minutes=1))}
    earcon = [s for s in heard.wakes if not s.payload.barge_in]
    ok = (res is not None and res.intent == "date" and any(d in res.reply for d in days)
          and len(earcon) == 1 and earcon[0].cid == heard.correlation_id and matches(res.reply, back))
    return Outcome("wake, pause, then the date", ok, describe(heard, back))


async def natural_time(room: Room) -> Outcome:
    heard, back = await room.ask("could you please tell me what time it is?")
    res = heard.result
    ok = res is not None and res.intent == "time" and says_time_now(res.reply) and matches(res.reply, back)
    return Outcome("a polite way to ask the time", ok, describe(heard, back))


async def name(room: Room) -> Outcome:
    heard, back = await room.ask("what's your name?")
    res = heard.result
    ok = res is not None and res.intent == "name" and re.search(r"\btar[sz]", back.lower()) is not None
    return Outcome("its name", ok, describe(heard, back))


async def volume_down(room: Room) -> Outcome:
    heard, back = await room.ask("turn the volume down a bit.")
    res = heard.result
    ok = res is not None and res.intent == "volume" and matches(res.reply, back)
    return Outcome("volume down", ok, describe(heard, back))


async def volume_up(room: Room) -> Outcome:
    heard, back = await room.ask("a bit louder, please.")
    res = heard.result
    ok = res is not None and res.intent == "volume" and matches(res.reply, back)
    return Outcome("volume up", ok, describe(heard, back))


async def multiply(room: Room) -> Outcome:
    heard, back = await room.ask("what is twelve times seven?")
    res = heard.result
    ok = (res is not None and (res.path, res.intent) == ("intent", "calculate")
          and res.reply == "12 times 7 is 84." and ("84" in back or "eighty" in back.lower()))
    return Outcome("spoken arithmetic, at once", ok, describe(heard, back))


async def add(room: Room) -> Outcome:
    heard, back = await room.ask("what is fifteen percent of eighty?")
    res = heard.result
    ok = res is not None and res.path == "llm" and re.search(r"\b12\b", res.reply) is not None
    return Outcome("arithmetic through the language model and the calculator", ok,
                   describe(heard, back))


async def fact(room: Room) -> Outcome:
    heard, back = await room.ask("what is the capital of France?")
    res = heard.result
    ok = res is not None and "paris" in res.reply.lower() and matches(res.reply, back)
    return Outcome("a fact", ok, describe(heard, back))


async def weekday(room: Room) -> Outcome:
    heard, back = await room.ask("what day is it today?")
    res = heard.result
    now = datetime.now().astimezone()
    ok = (res is not None and res.intent == "date"
          and any(f"{d:%A}" in res.reply for d in (now, now - timedelta(minutes=1))))
    return Outcome("the day of the week", ok, describe(heard, back))


async def remember_and_recall(room: Room) -> Outcome:
    first, back1 = await room.ask("remember that my sister is called Ada.")
    await asyncio.sleep(1.0)
    second, back2 = await room.ask("what is my sister called?")
    ok = (first.result is not None and (first.result.path, first.result.intent) == ("intent", "remember")
          and second.result is not None and "ada" in second.reply.lower())
    return Outcome("remember, then recall", ok,
                   f"{describe(first, back1)} | {describe(second, back2)}")


async def timer_heard_when_due(room: Room) -> Outcome:
    heard, back = await room.ask("set a timer for ten seconds.")
    ok_set = heard.result is not None and "timer" in heard.reply.lower() and "sorry" not in heard.reply.lower()
    due = heard.speech_end_ts + 10.0
    await asyncio.sleep(max(0.0, due + 8.0 - time.time()))
    after = room.stack.card.speaker(max(due - 1.0, heard.speech_end_ts))
    onset = after.first_sound_ts(threshold=LOUD)
    announced = ""
    if onset is not None:
        out = await asyncio.to_thread(room.whisper.transcribe, speech_of(after, onset - 0.1))
        announced = str(out.text)
    ok = ok_set and "timer" in announced.lower() and "done" in announced.lower()
    return Outcome("a timer heard when due", ok, f"{describe(heard, back)} announced={announced!r}")


async def background_talk(room: Room) -> Outcome:
    watch = room.stack.watch
    assert watch is not None
    t0 = time.time()
    await room.stack.play(spoken("I went hiking with my brother last weekend and it was lovely.",
                                 wake=False))
    sound = await room.stack.quiet(6.0)
    results = watch.since(watch.results, t0)
    ok = not results and sound.first_sound_ts(threshold=LOUD) is None
    return Outcome("talk without the wake word gets no reply", ok,
                   f"results={[r.payload.reply for r in results]}")


async def background_after_reply(room: Room) -> Outcome:
    watch = room.stack.watch
    assert watch is not None
    first, _ = await room.ask("what's your name?")
    t0 = time.time()
    await room.stack.play(spoken("Then on Saturday we watched a film about a dog.", wake=False))
    sound = await room.stack.quiet(6.0)
    results = watch.since(watch.results, t0)
    ok = (first.result is not None and first.result.intent == "name" and not results
          and sound.first_sound_ts(threshold=LOUD) is None)
    return Outcome("people talking after a reply get no answer", ok,
                   f"first={first.reply!r} later={[r.payload.reply for r in results]}")


async def greeting_then_follow_up(room: Room) -> Outcome:
    hello, back1 = await room.ask("hello!")
    follow, back2 = await room.ask("what time is it?", wake=False)
    ok = (hello.result is not None and hello.reply.endswith("?")
          and follow.result is not None and follow.result.intent == "time"
          and says_time_now(follow.reply) and not follow.wakes)
    return Outcome("a question asked back, answered without the wake word", ok,
                   f"{describe(hello, back1)} | {describe(follow, back2)}")


async def never_mind(room: Room) -> Outcome:
    heard, back = await room.ask("never mind.")
    res = heard.result
    ok = res is not None and res.intent == "stop" and not res.reply and heard.reply_onset_ts is None
    return Outcome("never mind ends quietly", ok, describe(heard, back))


async def wake_word_alone(room: Room) -> Outcome:
    watch = room.stack.watch
    assert watch is not None
    t0 = time.time()
    _, end = await room.stack.play(with_silence(piper("Hey Jarvis."), before_s=0.2, after_s=0.2))
    await asyncio.sleep(10.0)  # the wake window runs out
    sound = room.stack.card.speaker(end)
    wakes = [w for w in watch.since(watch.wakes, t0) if not w.payload.barge_in]
    onset = sound.first_sound_ts(threshold=LOUD)
    spoken_results = [r for r in watch.since(watch.results, t0) if r.payload.reply]
    last = sound.last_sound_ts(threshold=LOUD)
    short = onset is not None and last is not None and last - onset < 1.0
    ok = len(wakes) == 1 and short and not spoken_results
    earcon_ms = None if onset is None else round((onset - end) * 1000)
    return Outcome("the wake word alone: an earcon, then quiet", ok,
                   f"wakes={len(wakes)} earcon_after_speech_ms={earcon_ms} "
                   f"replies={[r.payload.reply for r in spoken_results]}")


LONG = " ".join(f"This is sentence number {i} of a very long answer about the sea." for i in range(14))


async def _speak_long(room: Room, cid: str) -> float:
    """The assistant starts a long reply on the hub's speaker; returns when it is heard."""
    watch = room.stack.watch
    assert watch is not None
    await watch.service.publish(T.TTS_SAY, TtsSay(text=LONG), correlation_id=cid, site_id="hub")
    await watch.until(lambda: any(s.cid == cid and isinstance(s.payload, TtsStatus)
                                  and s.payload.event == "started" for s in watch.tts), 30)
    await asyncio.sleep(1.5)
    return time.time()


async def barge_in_stop(room: Room) -> Outcome:
    watch = room.stack.watch
    assert watch is not None
    cid = f"long-{time.monotonic_ns()}"
    await _speak_long(room, cid)
    wake_audio = piper("Hey Jarvis.")
    audio = with_silence(np.concatenate([wake_audio, piper("stop.")]), before_s=0.2, after_s=0.3)
    t0 = time.time()
    play = asyncio.create_task(room.stack.play(audio))
    await watch.until(lambda: watch.tts_ended(cid), 20)
    await play
    await asyncio.sleep(1.0)
    ended = [s.payload for s in watch.tts if s.cid == cid and isinstance(s.payload, TtsStatus)
             and s.payload.event == "ended"]
    spoken_start = room.stack.card.mic(t0).first_sound_ts(threshold=LOUD)
    wake_end = None if spoken_start is None else spoken_start + len(wake_audio) / SAMPLE_RATE
    silent_at = room.stack.card.speaker(t0).last_sound_ts(threshold=LOUD)
    stop_ms = (None if wake_end is None or silent_at is None
               else round((silent_at - wake_end) * 1000))
    later = watch.since(watch.results, t0)
    crashed = "exited with" in room.stack.log.read_text(errors="replace")
    ok = bool(ended) and ended[0].reason == "stopped" and not crashed and not any(
        r.payload.reply for r in later)
    return Outcome("hey jarvis, stop during a long reply", ok,
                   f"ended={[e.reason for e in ended]} stop_after_wake_ms={stop_ms} "
                   f"crashed={crashed} later={[r.payload.reply for r in later]}")


async def echo_room(room: Room) -> Outcome:
    watch = room.stack.watch
    assert watch is not None
    room.stack.card.set_echo(12.0)
    try:
        heard, back = await room.ask("tell me one interesting fact about whales.")
        asked = [f.ts for f in heard.finals if f.payload.text]
        t_final = asked[0] if asked else time.time()
        self_heard = [f.payload.text for f in heard.finals if f.ts > t_final and f.payload.text]
        self_woke = [w for w in heard.wakes if w.ts > t_final]
    finally:
        room.stack.card.set_echo(None)
    ok = (heard.result is not None and heard.result.path == "llm" and bool(heard.reply)
          and not self_heard and not self_woke)
    return Outcome("with the room's echo it never hears itself", ok,
                   f"{describe(heard, back)} self_heard={self_heard} self_woke={len(self_woke)}")


SCENARIOS: list[Scenario] = [
    one_breath_time, pause_then_date, natural_time, name, volume_down, volume_up, multiply,
    fact, weekday, remember_and_recall, timer_heard_when_due, background_talk,
    background_after_reply, greeting_then_follow_up, never_mind, wake_word_alone,
    barge_in_stop, echo_room, add,
]


@pytest.fixture(scope="module")
def whisper() -> Any:
    from tars_stt.transcriber import WhisperTranscriber

    model = WhisperTranscriber()
    model.load()
    return model


async def test_twenty_spoken_interactions(tmp_path: Path, whisper: Any) -> None:
    require_sound_card()
    outcomes: list[Outcome] = []
    with virtual_sound_card() as card:
        async with AcousticStack(card, tmp_path) as stack:
            room = Room(stack, whisper)
            await stack.quiet(2.0)  # the stack settles: retained statuses, first heartbeats
            for scenario in SCENARIOS:
                try:
                    outcomes.append(await scenario(room))
                except Exception as exc:  # one broken interaction is one wrong answer
                    outcomes.append(Outcome(scenario.__name__, False, f"raised {exc!r}"))
                await stack.quiet(1.0)
            log = stack.log.read_text(errors="replace")
    interactions = len(outcomes) + 1  # remember-and-recall is two
    right = sum(o.ok for o in outcomes) + (1 if outcomes[SCENARIOS.index(remember_and_recall)].ok else 0)
    report = "\n".join(f"{'ok ' if o.ok else 'BAD'} {o.name}: {o.detail}" for o in outcomes)
    print(f"\n{right}/{interactions} right\n{report}\nvoice to voice ms: {room.v2v}")
    assert "exited with" not in log, log[-4000:]  # no worker died on the way
    assert right >= interactions - 1, report
