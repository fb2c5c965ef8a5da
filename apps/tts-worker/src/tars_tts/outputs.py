"""Where a reply's audio goes: an MQTT frame sink, and per-reply routing to it and the local sinks."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tars.audio import AudioSink
from tars.contracts.audio import AudioFrame
from tars_tts.resampler import StreamResampler
from tars_tts.sinks import Pacer, WavFileSink
from tars_tts.speaker import SpeakerSink

Int16Array = npt.NDArray[np.int16]
FramePublisher = Callable[[str, str, AudioFrame, bytes], Awaitable[None]]
"""``publish(site, reply_id, frame_header, pcm_bytes)``."""

_LOG = logging.getLogger(__name__)


class MqttAudioSink:
    """Streams a reply as AudioFrame messages (resampled to ``rate``), paced at real time.

    The site of each reply comes from ``site_of(reply_id)``. The reply ends with an empty
    frame marked ``final`` (also when it is aborted, so a satellite stops at once).
    """

    def __init__(self, publish: FramePublisher, site_of: Callable[[str], str], *, rate: int = 16_000,
                 lead_s: float = 0.3) -> None:
        self.publish = publish
        self.site_of = site_of
        self.rate = rate
        self.pacer = Pacer(1.0, lead_s)
        self._reply: str | None = None
        self._site = ""
        self._src_rate = rate
        self._resampler = StreamResampler(rate, rate)
        self._seq = 0
        self._sent_s = 0.0

    @property
    def pace(self) -> float:
        return self.pacer.pace

    async def begin(self, reply_id: str, sample_rate: int) -> None:
        self._reply, self._site = reply_id, self.site_of(reply_id)
        self._src_rate = sample_rate
        self._resampler = StreamResampler(sample_rate, self.rate)
        self._seq, self._sent_s = 0, 0.0
        self.pacer.reset()

    async def write(self, samples: Int16Array) -> None:
        if self._reply is None:
            raise RuntimeError("MqttAudioSink.write() before begin()")
        await self.pacer.wait(int(samples.size), self._src_rate)
        out = self._resampler.process(samples)
        if out.size:
            await self._send(out, final=False)

    async def _send(self, samples: Int16Array, *, final: bool) -> None:
        assert self._reply is not None
        frame = AudioFrame(sample_rate=self.rate, seq=self._seq, audio_time_s=round(self._sent_s, 4),
                           final=final)
        await self.publish(self._site, self._reply, frame, samples.astype("<i2", copy=False).tobytes())
        self._seq += 1
        self._sent_s += samples.size / self.rate

    async def end(self) -> None:
        await self._finish()
        await self.pacer.drain()

    async def abort(self) -> None:
        await self._finish()

    async def _finish(self) -> None:
        if self._reply is not None:
            try:
                await self._send(np.zeros(0, dtype=np.int16), final=True)
            finally:
                self._reply = None


class ReplyOutputs:
    """The one sink the speech queue writes to: fans each reply out to the local sinks, plus
    the MQTT sink when every reply goes there or when ``wants_mqtt(reply_id)`` says so.
    A reply for a remote site (``is_remote``) goes to that site over MQTT and never to the
    local speaker: the user is not in this room.

    Remembers the WAV file each reply was written to (``take_path``).
    """

    def __init__(self, local: list[AudioSink], mqtt: MqttAudioSink | None, *, mqtt_all: bool = False,
                 wants_mqtt: Callable[[str], bool] = lambda _r: False,
                 is_remote: Callable[[str], bool] = lambda _r: False) -> None:
        self.local = local
        self.mqtt = mqtt
        self.mqtt_all = mqtt_all
        self.wants_mqtt = wants_mqtt
        self.is_remote = is_remote
        self._active: list[AudioSink] = []
        self._paths: dict[str, Path] = {}

    async def begin(self, reply_id: str, sample_rate: int) -> None:
        remote = self.is_remote(reply_id)
        active = [s for s in self.local if not (remote and isinstance(s, SpeakerSink))]
        if self.mqtt is not None and (self.mqtt_all or remote or self.wants_mqtt(reply_id)):
            active.append(self.mqtt)
        self._active = []
        for sink in active:
            await sink.begin(reply_id, sample_rate)
            self._active.append(sink)
            if isinstance(sink, WavFileSink) and sink.paths:
                self._paths[reply_id] = sink.paths[-1]

    async def write(self, samples: Int16Array) -> None:
        for sink in self._active:
            await sink.write(samples)

    async def end(self) -> None:
        active, self._active = self._active, []
        for sink in active:
            await sink.end()

    async def abort(self) -> None:
        active, self._active = self._active, []
        for sink in active:
            with contextlib.suppress(Exception):
                await sink.abort()

    def take_path(self, reply_id: str) -> Path | None:
        """The WAV file of ``reply_id`` (forgotten once taken)."""
        return self._paths.pop(reply_id, None)


__all__ = ["FramePublisher", "MqttAudioSink", "ReplyOutputs", "StreamResampler"]
