"""Audio sources behind ``tars.audio.AudioSource``: WAV file, microphone, pushed PCM, fan-out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio import (
    SAMPLE_RATE,
    AudioFormatError,
    AudioSource,
    close_quietly,
    one_line,
    read_wav,
    require_device,
    resample,
)
from tars.runtime import ModelExecutor
from tars_stt.errors import NoAudioDeviceError, SourceClosedError

log = logging.getLogger(__name__)

Int16Array = npt.NDArray[np.int16]
PcmPayload = bytes | bytearray | memoryview | Int16Array

_STALL_S = 3.0  # no audio from an open microphone for this long: it is gone
#: Longest frame a pushed payload may hold (2 s): larger ones are rejected, not buffered.
MAX_FRAME_SAMPLES = 2 * SAMPLE_RATE


def decode_pcm(
    data: PcmPayload,
    *,
    sample_rate: int,
    expected_rate: int = SAMPLE_RATE,
    sample_format: str = "s16le",
    channels: int = 1,
) -> Int16Array:
    """Validate one pushed PCM frame and return it as mono int16; raise AudioFormatError."""
    if sample_rate != expected_rate:
        raise AudioFormatError(f"audio frame at {sample_rate} Hz, expected {expected_rate} Hz")
    if channels != 1:
        raise AudioFormatError(f"audio frame has {channels} channels, expected mono")
    if isinstance(data, np.ndarray):
        if data.dtype != np.int16 or data.ndim != 1:
            raise AudioFormatError(f"expected 1-D int16 samples, got {data.dtype} {data.shape}")
        samples = data
    elif isinstance(data, bytes | bytearray | memoryview):
        if sample_format != "s16le":
            raise AudioFormatError(f"unsupported sample format {sample_format!r}, expected s16le")
        raw = bytes(data)
        if len(raw) % 2:
            raise AudioFormatError(f"s16le frame of {len(raw)} bytes: not a whole sample count")
        samples = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    else:
        raise AudioFormatError(f"audio frame must be bytes or an int16 array, not {type(data)}")
    if samples.size == 0:
        raise AudioFormatError("empty audio frame")
    if samples.size > MAX_FRAME_SAMPLES:
        raise AudioFormatError(f"audio frame of {samples.size} samples is longer than 2 s")
    return samples


class QueueSource:
    """Frames pushed by someone else (an MQTT audio handler, a fan-out), read as an AudioSource.

    ``push`` must be called on the event loop's thread. When the reader falls behind by
    ``max_frames`` the oldest frame is dropped (counted in ``dropped``).
    """

    def __init__(self, *, sample_rate: int = SAMPLE_RATE, max_frames: int = 500) -> None:
        self.sample_rate = sample_rate
        self.dropped = 0
        self._queue: asyncio.Queue[Int16Array | None] = asyncio.Queue(maxsize=max_frames)
        self._closed = False

    def push(
        self,
        data: PcmPayload,
        *,
        sample_rate: int | None = None,
        sample_format: str = "s16le",
        channels: int = 1,
    ) -> None:
        """Queue one frame; raise AudioFormatError for a bad one, SourceClosedError if closed."""
        if self._closed:
            raise SourceClosedError("audio pushed into a closed source")
        samples = decode_pcm(
            data,
            sample_rate=self.sample_rate if sample_rate is None else sample_rate,
            expected_rate=self.sample_rate,
            sample_format=sample_format,
            channels=channels,
        )
        self.put_valid(samples)

    def put_valid(self, samples: Int16Array) -> None:
        """Queue a frame that is already known to be 16 kHz mono int16 (no checks)."""
        if not self._closed:
            self._put(samples)

    @property
    def closed(self) -> bool:
        return self._closed

    def _put(self, item: Int16Array | None) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1

    def end(self) -> None:
        """No more audio: the reader gets the frames already queued, then the stream ends."""
        if not self._closed:
            self._closed = True
            self._put(None)

    async def frames(self) -> AsyncIterator[Int16Array]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    async def close(self) -> None:
        self.end()


class WavFileSource:
    """A WAV file of any common rate/width/channels, resampled to 16 kHz mono, in chunks.

    With ``realtime=True`` chunks come at the pace of the audio clock (a stand-in microphone).
    A missing, empty or corrupt file raises AudioFormatError when reading starts.
    """

    def __init__(self, path: str | Path, *, realtime: bool = False, chunk_ms: int = 30) -> None:
        if chunk_ms <= 0:
            raise ValueError("chunk_ms must be positive")
        self.path = Path(path)
        self.realtime = realtime
        self.sample_rate = SAMPLE_RATE
        self._chunk = SAMPLE_RATE * chunk_ms // 1000
        self._closed = False

    def read(self) -> Int16Array:
        """The whole file as 16 kHz mono int16 (blocking)."""
        return read_wav(self.path, rate=self.sample_rate)

    async def frames(self) -> AsyncIterator[Int16Array]:
        samples = await asyncio.to_thread(self.read)
        started = time.monotonic()
        for off in range(0, samples.size, self._chunk):
            if self._closed:
                return
            if self.realtime:
                due = started + off / self.sample_rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            yield samples[off : off + self._chunk]

    async def close(self) -> None:
        self._closed = True


class MicrophoneSource:
    """A sound-card input through sounddevice; device by name (substring) or index.

    Construction raises NoAudioDeviceError (one clear line) when no such input exists. Once
    reading, a device that cannot be opened (busy, no usable rate), fails, disappears or stalls
    is logged once, closed, and reopened when it is back; meanwhile no frames come (the worker
    keeps serving MQTT audio). Every PortAudio call runs on one thread (``tars-stt-mic``).
    """

    def __init__(
        self, device: str | int | None = None, *, block_ms: int = 30, max_frames: int = 500,
        reopen_s: float = 1.0,
    ) -> None:
        self.device = device
        self.device_index = require_device("input", device)
        self.sample_rate = SAMPLE_RATE
        self.reopen_s = reopen_s
        self._block_ms = block_ms
        self._queue = QueueSource(max_frames=max_frames)
        self._device_rate = SAMPLE_RATE
        self._executor = ModelExecutor("stt-mic")
        self._last_block = 0.0
        self.up = False

    def _open(self, loop: asyncio.AbstractEventLoop, rescan: bool) -> Any:
        import sounddevice as sd  # type: ignore[import-untyped,unused-ignore]

        if rescan:  # PortAudio lists devices once; a device plugged back in needs a re-scan
            sd._terminate()
            sd._initialize()
            self.device_index = require_device("input", self.device)

        def on_block(indata: Any, frames: int, time_info: Any, status: Any) -> None:
            self._last_block = time.monotonic()
            block = np.asarray(indata[:, 0], dtype=np.int16).copy()
            loop.call_soon_threadsafe(self._accept, block)

        for rate in (SAMPLE_RATE, None):  # None: the device's own rate, resampled here
            try:
                stream = sd.InputStream(
                    device=self.device_index,
                    channels=1,
                    samplerate=rate,
                    dtype="int16",
                    blocksize=0 if rate is None else SAMPLE_RATE * self._block_ms // 1000,
                    callback=on_block,
                )
            except sd.PortAudioError as exc:
                if rate is None:
                    raise NoAudioDeviceError(f"cannot open audio input: {exc}") from exc
                continue
            self._device_rate = int(stream.samplerate)
            self._last_block = time.monotonic()
            stream.start()
            return stream
        raise NoAudioDeviceError("cannot open audio input")  # pragma: no cover

    def _accept(self, block: Int16Array) -> None:
        if block.size:  # per-block resampling: fine for speech, only used off 16 kHz devices
            self._queue.put_valid(resample(block, self._device_rate, SAMPLE_RATE))

    async def frames(self) -> AsyncIterator[Int16Array]:
        keeper = asyncio.create_task(self._keep_open(asyncio.get_running_loop()), name="stt-mic")
        try:
            async for frame in self._queue.frames():
                yield frame
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)

    async def _keep_open(self, loop: asyncio.AbstractEventLoop) -> None:
        stream: Any = None
        down_logged, rescan = False, False
        try:
            while not self._queue.closed:
                if stream is None:
                    try:
                        stream = await self._executor.run(self._open, loop, rescan)
                    except Exception as exc:  # NoAudioDeviceError, PortAudioError
                        if not down_logged:
                            log.warning("microphone unavailable (%s); retrying every %g s, MQTT "
                                        "audio is still heard", one_line(exc), self.reopen_s)
                            down_logged = True
                        rescan = True
                        await asyncio.sleep(self.reopen_s)
                        continue
                    log.log(logging.WARNING if down_logged else logging.INFO,
                            "microphone %s: device %s at %d Hz", "is back" if down_logged else "open",
                            self.device_index, self._device_rate)
                    down_logged, self.up = False, True
                await asyncio.sleep(0.25)
                if not stream.active or time.monotonic() - self._last_block > _STALL_S:
                    log.warning("microphone lost (%s); reopening when it is back",
                                "stream stopped" if not stream.active else "no audio")
                    down_logged, rescan, self.up = True, True, False
                    await self._executor.run(close_quietly, stream)
                    stream = None
        finally:
            self.up = False
            if stream is not None:
                await asyncio.shield(self._executor.run(close_quietly, stream))

    async def close(self) -> None:
        await self._queue.close()



class AudioFanout:
    """One source, many readers (local single-process mode): each ``subscribe()`` gets a queue."""

    def __init__(self, source: AudioSource, *, max_frames: int = 500) -> None:
        self.source = source
        self.sample_rate = source.sample_rate
        self._max_frames = max_frames
        self._subscribers: list[QueueSource] = []

    def subscribe(self) -> QueueSource:
        sub = QueueSource(sample_rate=self.sample_rate, max_frames=self._max_frames)
        self._subscribers.append(sub)
        return sub

    async def run(self) -> None:
        """Pump the source into every subscriber until it ends; then end them all."""
        try:
            async for frame in self.source.frames():
                for sub in self._subscribers:
                    sub.put_valid(frame)
        finally:
            for sub in self._subscribers:
                sub.end()
