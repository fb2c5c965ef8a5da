"""Where a reply's audio goes: a streaming resampler, an MQTT frame sink, and per-reply routing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tars.audio import AudioSink
from tars.contracts.audio import AudioFrame
from tars_tts.sinks import Pacer, SpeakerSink, WavFileSink

Int16Array = npt.NDArray[np.int16]
FramePublisher = Callable[[str, str, AudioFrame, bytes], Awaitable[None]]
"""``publish(site, reply_id, frame_header, pcm_bytes)``."""

_LOG = logging.getLogger(__name__)


class StreamResampler:
    """Block-by-block resampling of one continuous mono stream, without seams between blocks.

    A causal low-pass FIR (state kept across blocks) removes what the target rate cannot hold,
    then linear interpolation at a continuous fractional position picks the output samples.
    """

    def __init__(self, src_rate: int, dst_rate: int, taps: int = 63) -> None:
        self.src_rate, self.dst_rate = src_rate, dst_rate
        self._step = src_rate / dst_rate
        self._pos = 0.0  # next output position, in input samples from the block's start
        self._tail = 0.0  # last (filtered) input sample of the previous block
        self._fir: npt.NDArray[np.float64] | None = None
        self._zi: npt.NDArray[np.float64] | None = None
        if dst_rate < src_rate:
            from scipy.signal import firwin

            self._fir = firwin(taps, 0.45 * dst_rate, fs=src_rate)
            self._zi = np.zeros(taps - 1)

    def process(self, block: Int16Array) -> Int16Array:
        if self.src_rate == self.dst_rate or block.size == 0:
            return block
        x = block.astype(np.float64)
        if self._fir is not None:
            from scipy.signal import lfilter

            x, self._zi = lfilter(self._fir, 1.0, x, zi=self._zi)
        buf = np.concatenate(([self._tail], x))  # buf[i + 1] is block sample i
        last = float(block.size - 1)
        positions = np.arange(self._pos, last + 1e-9, self._step)
        self._tail = float(x[-1])
        if positions.size == 0:
            self._pos -= block.size
            return np.zeros(0, dtype=np.int16)
        self._pos = float(positions[-1]) + self._step - block.size
        out = np.interp(positions + 1.0, np.arange(buf.size, dtype=np.float64), buf)
        result: Int16Array = np.clip(np.round(out), -32768, 32767).astype(np.int16)
        return result


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
