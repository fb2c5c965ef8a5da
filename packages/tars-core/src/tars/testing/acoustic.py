"""The whole stack heard through a virtual sound card: speak into the mic, listen to the speaker.

:class:`AcousticStack` runs ``tars up`` (broker with passwords, every worker) in a fresh folder
with the environment of a :class:`~tars.testing.soundcard.VirtualSoundCard`, so the stt worker
captures the card's "mic" and the tts worker plays on its "speaker" through their ordinary
sounddevice code. A bus watcher (the cli credential) records wake events, transcripts, turn
results and tts statuses; :meth:`AcousticStack.ask` plays a spoken request into the mic in real
time and returns what came out of the speaker, timed on the recorded signals.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio.pcm import SAMPLE_RATE
from tars.bench.beats import Beats
from tars.contracts import topics as T
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsStatus
from tars.contracts.turn import TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime.service import Inbound, Service
from tars.testing.soundcard import Recording, VirtualSoundCard
from tars.testing.upstack import UpStack

Int16Array = npt.NDArray[np.int16]
SITE = "hub"
# A reply is loud; the card's silence is digital zero. -40 dBFS-ish RMS over 10 ms.
LOUD = 300.0


@dataclass
class Seen:
    """One message the watcher saw: when it arrived (wall clock) and its correlation id."""

    ts: float
    cid: str
    payload: Any


@dataclass
class Heard:
    """What one spoken request produced, as a person in the room would notice it."""

    said: str
    speech_end_ts: float
    transcript: str = ""
    result: TurnResult | None = None
    correlation_id: str = ""
    reply_onset_ts: float | None = None
    speaker: Recording | None = None
    wakes: list[Seen] = field(default_factory=list)
    finals: list[Seen] = field(default_factory=list)

    @property
    def reply(self) -> str:
        return self.result.reply if self.result else ""

    @property
    def voice_to_voice_ms(self) -> float | None:
        """Last voiced sample into the mic -> first reply sample out of the speaker."""
        if self.reply_onset_ts is None:
            return None
        return round((self.reply_onset_ts - self.speech_end_ts) * 1000, 1)


class Watcher:
    """Records, for one site, what the workers publish about its turns."""

    def __init__(self, url: str, site: str = SITE) -> None:
        from tars.runtime.connect import client_bus

        self.site = site
        self.service = Service("acoustic-watch", client_bus(url, "cli-acoustic"),
                               announce=False)
        self.wakes: list[Seen] = []
        self.finals: list[Seen] = []
        self.results: list[Seen] = []
        self.tts: list[Seen] = []
        self.changed = asyncio.Event()
        self.service.handle(T.WAKE_EVENT, self._keep(self.wakes))
        self.service.handle(T.STT_FINAL, self._keep(self.finals))
        self.service.handle(T.TURN_RESULT, self._keep(self.results))
        self.service.handle(T.TTS_STATUS, self._keep(self.tts))
        self.beats = Beats(self.service)

    def _keep(self, into: list[Seen]) -> Any:
        async def handler(msg: Inbound[Any]) -> None:
            if msg.site_id in (self.site, None, ""):
                into.append(Seen(time.time(), msg.correlation_id, msg.payload))
                self.changed.set()
        return handler

    async def until(self, cond: Any, timeout: float) -> bool:
        """Wait until ``cond()`` holds; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                while not cond():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            return False
        return True

    def since(self, items: list[Seen], ts: float) -> list[Seen]:
        return [s for s in items if s.ts >= ts]

    def tts_ended(self, cid: str) -> bool:
        return any(s.cid == cid and isinstance(s.payload, TtsStatus) and s.payload.event == "ended"
                   for s in self.tts)


class AcousticStack:
    """``tars up`` on a virtual sound card, plus a watcher; use as an async context manager."""

    def __init__(self, card: VirtualSoundCard, home: Path, *, env: dict[str, str] | None = None,
                 ready_timeout_s: float = 420.0) -> None:
        self.card, self.home = card, home
        self.up = UpStack(home, {**card.env, "TARS_SITE_ID": SITE, **(env or {})},
                          ready_timeout_s=ready_timeout_s)
        self.log = self.up.log
        self.watch: Watcher | None = None

    @property
    def url(self) -> str:
        return self.up.url

    @property
    def ready_s(self) -> float:
        return self.up.ready_s

    def start(self) -> None:
        self.up.start()

    def stop(self) -> None:
        self.up.stop()

    async def __aenter__(self) -> AcousticStack:
        await asyncio.to_thread(self.start)
        self.watch = Watcher(self.url)
        await self.watch.service.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.watch is not None:
            await self.watch.service.stop()
        await asyncio.to_thread(self.stop)

    # -- speaking into the room -----------------------------------------------------------
    async def play(self, audio: Int16Array) -> tuple[float, float]:
        """Play ``audio`` into the mic in real time; (wall time it began, last voiced sample)."""
        t0 = time.time()
        await asyncio.to_thread(self.card.play, audio, SAMPLE_RATE)
        await asyncio.sleep(0.05)
        end = self.card.mic(t0 - 0.05).last_sound_ts(threshold=LOUD)
        return t0, end if end is not None else time.time()

    async def ask(self, audio: Int16Array, said: str, *, timeout_s: float = 120.0,
                  expect_reply: bool = True, settle_s: float = 0.6) -> Heard:
        """Speak ``audio``; wait for the turn it opens (if any) to be answered and spoken."""
        watch = self._watch()
        t0, end = await self.play(audio)
        heard = Heard(said, end)

        def mine() -> list[Seen]:
            """Results of turns this request opened (a late result of an earlier turn is not
            the answer): their id is a wake's or a transcript's since ``t0``."""
            opened = {s.cid for s in (*watch.since(watch.wakes, t0), *watch.since(watch.finals, t0))}
            return [r for r in watch.since(watch.results, t0) if r.cid in opened]

        if expect_reply:
            await watch.until(lambda: bool(mine()), timeout_s)
        else:
            await asyncio.sleep(timeout_s)
        results = mine()
        if results:
            first = results[0]
            heard.result, heard.correlation_id = first.payload, first.cid
            if first.payload.spoken or first.payload.reply:
                await watch.until(lambda: watch.tts_ended(first.cid), 90)
        await asyncio.sleep(settle_s)
        heard.wakes = watch.since(watch.wakes, t0)
        heard.finals = watch.since(watch.finals, t0)
        finals = [f for f in heard.finals if isinstance(f.payload, SttFinal) and f.payload.text]
        own = [f for f in finals if f.cid == heard.correlation_id] or finals
        heard.transcript = own[0].payload.text if own else ""
        heard.speaker = self.card.speaker(end)
        heard.reply_onset_ts = heard.speaker.first_sound_ts(threshold=LOUD)
        return heard

    async def quiet(self, seconds: float) -> Recording:
        """Wait ``seconds`` and return what the speaker played meanwhile."""
        t0 = time.time()
        await asyncio.sleep(seconds)
        return self.card.speaker(t0)

    def wake_events(self, since: float) -> list[WakeEvent]:
        return [s.payload for s in self._watch().since(self._watch().wakes, since)]

    def _watch(self) -> Watcher:
        if self.watch is None:
            raise RuntimeError("AcousticStack is not started (use `async with`)")
        return self.watch


def speech_of(recording: Recording, since_ts: float | None = None) -> Int16Array:
    """The recorded samples from ``since_ts`` on, as 16 kHz int16 for re-transcription."""
    start = 0 if since_ts is None else max(0, int((since_ts - recording.start_ts) * recording.rate))
    samples = recording.samples[start:]
    if recording.rate != SAMPLE_RATE:
        from tars.audio.pcm import resample

        samples = resample(samples, recording.rate, SAMPLE_RATE)
    return np.asarray(samples, dtype=np.int16)


__all__ = ["AcousticStack", "Heard", "Seen", "Watcher", "speech_of"]
