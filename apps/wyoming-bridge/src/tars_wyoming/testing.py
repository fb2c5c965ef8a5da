"""A Home Assistant stand-in for tests and checks: the wyoming client library against the bridge."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from wyoming.asr import Transcribe
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

from tars.testing.speech import overlap as overlap  # the bridge's tests import it from here
from tars.testing.speech import words as words

Int16Array = npt.NDArray[np.int16]
CHUNK = 1024


def client(uri: str) -> AsyncTcpClient:
    host, port = uri.removeprefix("tcp://").split(":")
    return AsyncTcpClient(host, int(port), connect_timeout=5, read_timeout=60)


async def send(c: AsyncTcpClient, event: Event) -> None:
    await c.write_event(event)


async def stream(c: AsyncTcpClient, samples: Int16Array, rate: int, *, speed: float = 8.0,
                 stop: bool = True) -> None:
    """audio-start, chunks of CHUNK samples paced at ``speed`` x real time, audio-stop."""
    await c.write_event(AudioStart(rate=rate, width=2, channels=1).event())
    pcm = samples.astype("<i2").tobytes()
    for off in range(0, len(pcm), CHUNK * 2):
        await c.write_event(AudioChunk(rate=rate, width=2, channels=1,
                                       audio=pcm[off:off + CHUNK * 2]).event())
        await asyncio.sleep(CHUNK / rate / speed)
    if stop:
        await c.write_event(AudioStop().event())


@dataclass(frozen=True)
class Bridge:
    """Where a running bridge listens, and the namespace its workers share."""

    host: str
    ports: dict[str, int]
    namespace: str
    mqtt_url: str
    logs: Path

    def uri(self, name: str) -> str:
        return f"tcp://{self.host}:{self.ports[name]}"


async def read_until(c: AsyncTcpClient, *last: str, timeout_s: float = 60) -> list[Event]:
    """Events up to and including the first whose type is one of ``last``."""
    got: list[Event] = []

    async def run() -> None:
        while True:
            event = await c.read_event()
            assert event is not None, f"connection closed before {last!r} (got {[e.type for e in got]})"
            got.append(event)
            if event.type in last:
                return

    await asyncio.wait_for(run(), timeout_s)
    return got


async def transcribe(uri: str, samples: Int16Array, rate: int = 16_000) -> list[Event]:
    """What Home Assistant does for speech-to-text; returns the events up to ``transcript``."""
    async with client(uri) as c:
        await c.write_event(Transcribe(language="en").event())
        await stream(c, samples, rate)
        return await read_until(c, "transcript")


def pcm_of(events: list[Event]) -> tuple[Int16Array, int]:
    chunks = [AudioChunk.from_event(e) for e in events if AudioChunk.is_type(e.type)]
    assert chunks, [e.type for e in events]
    audio = b"".join(c.audio for c in chunks)
    return np.frombuffer(audio, dtype="<i2").astype(np.int16), chunks[0].rate
