"""``tars speak TEXT``: have the tts worker speak, optionally recording the reply audio to a WAV file."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import typer

from tars.audio import write_wav
from tars.cli.common import configured_url, fail, print_json
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.tts import TtsSay, TtsStatus
from tars.runtime import BusError, ConfigError, CoreSettings, Inbound, Service, load_settings
from tars.runtime.mqtt import MqttBus
from tars.stack.ephemeral import ensure_stack


@dataclass
class Spoken:
    """What one say request produced, as seen by the client that sent it."""

    correlation_id: str
    requested_at: float
    ended: TtsStatus
    started: TtsStatus | None = None
    samples: npt.NDArray[np.int16] = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16_000

    @property
    def first_audio_ms(self) -> float | None:
        if self.started is None or self.started.first_sample_ts is None:
            return None
        return (self.started.first_sample_ts - self.requested_at) * 1000


class ReplyListener:
    """Collects the status events and (optionally) the audio frames of one correlation id."""

    def __init__(self, correlation_id: str) -> None:
        self.correlation_id = correlation_id
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[TtsStatus] = loop.create_future()
        self.ended: asyncio.Future[TtsStatus] = loop.create_future()
        self.audio_done = asyncio.Event()
        self.frames: dict[int, bytes] = {}
        self.sample_rate = 16_000

    async def on_status(self, msg: Inbound[TtsStatus]) -> None:
        if msg.correlation_id != self.correlation_id:
            return
        fut = {"started": self.started, "ended": self.ended}.get(msg.payload.event)
        if fut is not None and not fut.done():
            fut.set_result(msg.payload)

    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        if msg.correlation_id != self.correlation_id:
            return
        self.sample_rate = msg.payload.sample_rate
        if msg.pcm:
            self.frames[msg.payload.seq] = msg.pcm
        if msg.payload.final:
            self.audio_done.set()

    def samples(self) -> npt.NDArray[np.int16]:
        raw = b"".join(self.frames[k] for k in sorted(self.frames))
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)


async def speak_text(text: str, url: str, namespace: str = "", *, record: bool = False,
                     timeout_s: float | None = None) -> Spoken:
    """Publish one say request on a site of its own and wait for its ``ended`` status."""
    site = f"speak-{uuid.uuid4().hex[:8]}"
    cid = uuid.uuid4().hex
    wait_s = timeout_s if timeout_s is not None else max(30.0, len(text) / 5)
    async with ensure_stack(["tts"], url, namespace=namespace) as stack:
        client = Service("speak", MqttBus(stack.url, f"tars-speak-{uuid.uuid4().hex[:8]}",
                                          namespace=namespace), site_id=site)
        listener = ReplyListener(cid)
        client.handle(T.TTS_STATUS, listener.on_status)
        if record:
            client.handle(T.AUDIO_OUT, listener.on_audio, topic=T.AUDIO_OUT.topic(site=site))
        await client.start()
        try:
            requested_at = time.time()
            await client.publish(T.TTS_SAY, TtsSay(text=text, audio_out=record), correlation_id=cid,
                                 site_id=site, expiry_s=wait_s)
            try:
                ended = await asyncio.wait_for(listener.ended, wait_s)
            except TimeoutError:
                raise BusError(f"the tts worker did not finish speaking within {wait_s:.0f} s") from None
            if record and ended.audio_s > 0:
                try:
                    await asyncio.wait_for(listener.audio_done.wait(), 5.0)
                except TimeoutError:
                    pass  # keep what arrived
            started = listener.started.result() if listener.started.done() else None
            return Spoken(cid, requested_at, ended, started, listener.samples(), listener.sample_rate)
        finally:
            await client.stop()


def summary(spoken: Spoken, out: Path | None) -> dict[str, Any]:
    first = spoken.first_audio_ms
    path = str(out) if out is not None else spoken.ended.path
    return {
        "correlation_id": spoken.correlation_id,
        "reason": spoken.ended.reason,
        "first_audio_ms": round(first, 1) if first is not None else None,
        "audio_s": spoken.ended.audio_s,
        "path": path,
    }


def speak(
    text: Annotated[str, typer.Argument(help="What to say")],
    out: Annotated[Path | None, typer.Option("--out", help="Also write the reply audio to this WAV file")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    url: Annotated[str | None, typer.Option(help="Broker URL (default: configured, or start one)")] = None,
) -> None:
    """Speak TEXT with the tts worker (uses a running stack or starts one)."""
    try:
        namespace = load_settings(CoreSettings).namespace
        spoken = asyncio.run(speak_text(text, configured_url(url), namespace, record=out is not None))
    except (BusError, ConfigError) as exc:
        raise fail(str(exc), 3) from None
    reason = spoken.ended.reason or "?"
    if reason != "done":
        raise fail(f"not spoken: {reason}", 1)
    if out is not None:
        if spoken.samples.size == 0:
            raise fail("the tts worker sent no audio", 1)
        write_wav(out, spoken.samples, spoken.sample_rate)
    result = summary(spoken, out)
    if json_:
        print_json(result)
    else:
        first = result["first_audio_ms"]
        where = f" -> {result['path']}" if result["path"] else ""
        typer.echo(f"spoke {result['audio_s']:.1f} s of audio, first audio after "
                   f"{first if first is not None else '?'} ms{where}")
