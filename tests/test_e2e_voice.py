"""End to end: `tars up` runs broker + every worker as processes with real models; spoken
questions (generated at test time) go in over MQTT audio and the replies are checked on content."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tars.contracts import topics as T
from tars.contracts.health import Heartbeat, Status
from tars.contracts.tts import TtsSay, TtsStatus
from tars.contracts.turn import TextTurn, TurnResult
from tars.runtime.mqtt import MqttBus
from tars.runtime.service import Inbound, Service
from tars.stack.converse import converse_once
from tars.testing.speech import piper, with_silence
from tars.testing.upstack import UpStack

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(900)]
APOLOGY = "I can't reach my language model right now."


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpStack]:
    """`tars up` in a fresh folder: its own broker (auth + ACL), all workers supervised."""
    # generous LLM timeouts: on a loaded 2-core machine a cold tools prompt takes tens of seconds
    up = UpStack(tmp_path_factory.mktemp("tars-up"),
                 {"TARS_SITE_ID": "hub", "TARS_FIRST_CHUNK_TIMEOUT_S": "150",
                  "TARS_THINK_TIMEOUT_S": "240"}, ready_timeout_s=400)
    up.start()
    assert "@" in up.url  # password auth, nothing anonymous
    try:
        yield up
    finally:
        up.stop()


def spoken(text: str) -> Any:
    """The question as a user says it: the wake word first, in one breath."""
    return with_silence(piper(f"Hey Jarvis, {text}"), before_s=0.3, after_s=0.2)


async def ask_spoken(stack: UpStack, text: str, **kw: Any) -> dict[str, Any]:
    return await converse_once(stack.url, spoken(text), timeout_s=180, **kw)


@pytest.fixture(scope="module")
def whisper() -> Any:
    from tars_stt.transcriber import WhisperTranscriber

    model = WhisperTranscriber()
    model.load()
    return model


def test_anonymous_clients_are_refused(stack: UpStack) -> None:
    anon = re.sub(r"//[^@]+@", "//", stack.url)

    async def connect() -> None:
        bus = MqttBus(anon, "anon-probe", connect_timeout=3)
        await bus.start()

    with pytest.raises(Exception):  # noqa: B017 - BusError from the runtime
        asyncio.run(connect())


async def test_what_time_is_it_answers_the_real_time(stack: UpStack) -> None:
    result = await ask_spoken(stack, "What time is it?")
    assert result["path"] == "intent", result
    now = dt.datetime.now()
    candidates = {(now + dt.timedelta(minutes=d)).strftime("%-I:%M") for d in (-1, 0, 1)}
    assert any(c in result["reply"] for c in candidates), result
    assert result["voice_to_voice_ms"] is not None and result["reply_audio_s"] > 0.5


async def test_spoken_arithmetic_is_a_local_intent(stack: UpStack) -> None:
    result = await ask_spoken(stack, "What is twelve times seven?")
    assert (result["path"], result["reply"]) == ("intent", "12 times 7 is 84."), result
    assert result["reply_audio_s"] > 0.5


async def test_calculator_through_llm_and_tool(stack: UpStack) -> None:
    # the 0.5B model sometimes writes no call or a broken one: asked twice, as a user would ask
    # again, one answer must come from the calculator; the exact number is checked by the
    # acoustic suite (19 of 20 interactions must be right). Nothing of a broken call is spoken.
    tries = []
    for _ in range(2):
        result = await ask_spoken(stack, "What is fifteen percent of eighty?")
        assert result["path"] == "llm" and "{" not in result["reply"], result
        tries.append(result)
        if "calculate" in result["tools"] and re.search(r"\d", result["reply"]):
            break
    else:
        raise AssertionError(tries)
    assert result["reply_audio_s"] > 0.5


async def test_reply_audio_matches_reply_text(stack: UpStack, whisper: Any, tmp_path: Path) -> None:
    from tars.audio.pcm import read_wav
    from tars_stt.metrics import word_error_rate

    result = await ask_spoken(stack, "What is your name?", out=tmp_path / "reply.wav")
    assert result["path"] == "intent" and result["out"], result
    audio = read_wav(result["out"])
    heard = whisper.transcribe(audio).text
    assert word_error_rate([(result["reply"], heard)]) <= 0.25, (result["reply"], heard)


async def test_remember_then_recall(stack: UpStack) -> None:
    first = await ask_spoken(stack, "Remember that my sister is called Ada.", site="e2e-home")
    assert (first["path"], first["reply"]) == ("intent", "I'll remember that."), first
    await asyncio.sleep(1.0)  # the memory worker ingests the finished turn
    second = await ask_spoken(stack, "What is my sister called?", site="e2e-home")
    assert second["path"] == "llm", second
    assert "ada" in second["reply"].lower(), (first, second)


class Watch:
    """A bus client that records statuses and results of interest."""

    def __init__(self, url: str) -> None:
        self.service = Service("e2e-watch", MqttBus(url, f"e2e-watch-{os.getpid()}"), announce=False)
        self.tts: list[Inbound[TtsStatus]] = []
        self.results: dict[str, TurnResult] = {}
        self.llm_pid = 0
        self.llm_state = ""
        self.changed = asyncio.Event()
        self.service.handle(T.TTS_STATUS, self._tts)
        self.service.handle(T.TURN_RESULT, self._result)
        self.service.handle(T.SYSTEM_HEARTBEAT, self._beat, topic=T.SYSTEM_HEARTBEAT.topic(service="llm"))
        self.service.handle(T.SYSTEM_STATUS, self._status, topic=T.SYSTEM_STATUS.topic(service="llm"))

    async def _tts(self, msg: Inbound[TtsStatus]) -> None:
        self.tts.append(msg)
        self.changed.set()

    async def _result(self, msg: Inbound[TurnResult]) -> None:
        self.results[msg.correlation_id] = msg.payload
        self.changed.set()

    async def _beat(self, msg: Inbound[Heartbeat]) -> None:
        self.llm_pid = msg.payload.pid
        self.changed.set()

    async def _status(self, msg: Inbound[Status]) -> None:
        self.llm_state = msg.payload.state
        self.changed.set()

    async def until(self, cond: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def watch(stack: UpStack) -> AsyncIterator[Watch]:
    w = Watch(stack.url)
    await w.service.start()
    yield w
    await w.service.stop()


async def test_hey_jarvis_during_a_long_reply_stops_it(stack: UpStack, watch: Watch) -> None:
    site, cid = "bargein", "bargein-turn-1"
    long_text = " ".join(f"This is sentence number {i} of a very long answer about robots." for i in range(12))
    await watch.service.publish(T.TTS_SAY, TtsSay(text=long_text), correlation_id=cid, site_id=site)
    started = lambda: any(m.correlation_id == cid and m.payload.event == "started" for m in watch.tts)  # noqa: E731
    await watch.until(started, 60)
    await asyncio.sleep(1.0)
    wake = with_silence(piper("Hey Jarvis."), before_s=0.2, after_s=0.5)
    t0 = time.monotonic()
    await converse_once(stack.url, wake, site=site, timeout_s=3)
    await watch.until(lambda: any(m.correlation_id == cid and m.payload.event == "ended" for m in watch.tts), 20)
    ended = [m for m in watch.tts if m.correlation_id == cid and m.payload.event == "ended"]
    assert ended[0].payload.reason == "stopped", ended[0].payload
    assert ended[0].payload.audio_s < 30  # twelve sentences take far longer than what was played
    assert time.monotonic() - t0 < 20


async def test_killed_llm_mid_turn_apologises_and_is_restarted(stack: UpStack, watch: Watch) -> None:
    await watch.until(lambda: watch.llm_pid > 0 and watch.llm_state == "online", 30)
    victim = watch.llm_pid
    env = await watch.service.publish(T.ROUTER_TEXT, TextTurn(text="Tell me something about the moon.",
                                                              speak=False), site_id="killsite")
    await asyncio.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    await watch.until(lambda: env.correlation_id in watch.results, 60)
    result = watch.results[env.correlation_id]
    assert result.path == "error" and result.reply == APOLOGY, result
    # tars up restarts the worker; the next turn works
    await watch.until(lambda: watch.llm_pid not in (0, victim) and watch.llm_state == "online", 300)
    again = await watch.service.publish(T.ROUTER_TEXT, TextTurn(text="What is the capital of Italy?", speak=False),
                                        site_id="killsite")
    await watch.until(lambda: again.correlation_id in watch.results, 240)
    final = watch.results[again.correlation_id]
    # the restarted worker answers (what a 0.5B model says is not what this test is about)
    assert final.path == "llm" and final.reason == "completed", final
    assert final.reply.strip() and final.reply != APOLOGY, final
    assert "restarting" in stack.log.read_text()

