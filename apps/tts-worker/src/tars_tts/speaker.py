"""The local speaker: one PortAudio output stream, kept open and owned by one thread, fed from a buffer.

Every PortAudio call (open, start, abort, close, re-scan) happens on the ``tts-speaker``
thread; the stream's callback only copies samples out of a locked buffer (silence when it is
empty). Stopping a reply is dropping the buffer, never a stream call from another thread, so
the speaker falls silent within one callback block plus the device latency. A device that
fails, disappears or stalls is closed and reopened by the owner thread when it is back; each
change is logged once.

The stream stays open but runs only while there is audio (and ``idle_s`` after): a running
stream keeps a whole device buffer of silence queued, and new audio would wait behind it. A
stream started on demand is primed with the new audio itself, so the first sample reaches the
device at once (PulseAudio plays a new stream's data straight away) while the buffer stays
large enough not to underrun on a busy CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio import NoAudioDeviceError, close_quietly, one_line, require_device
from tars_tts.resampler import StreamResampler
from tars_tts.sinks import Pacer

Int16Array = npt.NDArray[np.int16]
RefCallback = Callable[[Int16Array, int, float], None]
"""``on_ref(block, rate, dac_ts)``: a block just handed to the device, its rate, and the wall-clock
time its first sample reaches the DAC. Called on PortAudio's thread: quick, never blocking."""

log = logging.getLogger(__name__)
_STALL_S = 3.0  # no callback for this long: the device is gone (a busy CPU stalls ~2 s)
_MAX_BUFFER_S = 1.5  # a device that stopped consuming does not make the buffer grow forever
_IDLE_S = 0.5  # a running stream with nothing to play for this long is stopped (kept open)


def _sounddevice() -> Any:
    import sounddevice  # type: ignore[import-untyped,unused-ignore]

    return sounddevice


class SpeakerOutput:
    """An always-open output stream on ``device`` (name, index, or None for the default).

    ``start()`` resolves the device (raising NoAudioDeviceError when the machine has no
    output at all) and starts the owner thread, which opens the stream and keeps it open.
    """

    def __init__(self, device: str | int | None = None, *, rate: int | None = None,
                 block_ms: int = 10, latency_s: float = 0.06, reopen_s: float = 1.0,
                 on_ref: RefCallback | None = None, ref_delay_s: float = 0.0,
                 idle_s: float = _IDLE_S) -> None:
        self.device = device
        self.requested_rate = rate
        self.block_ms = block_ms
        self.latency_s = latency_s
        self.reopen_s = reopen_s
        self.on_ref = on_ref
        self.ref_delay_s = ref_delay_s
        self.idle_s = idle_s
        self.rate = rate or 48_000
        self.channels = 1
        self.device_latency_s = latency_s
        self._lock = threading.Lock()
        self._blocks: deque[Int16Array] = deque()
        self._buffered = 0
        self._wake = threading.Event()
        self._closing = False
        self._ready = threading.Event()
        self._up = False
        self._last_callback = 0.0
        self._last_audio = 0.0  # monotonic time of the last callback that played pushed audio
        self._running = False  # the stream is started (else open and stopped, waiting for audio)
        self._played = 0  # samples of pushed audio that went to the device
        self.underflows = 0  # callbacks PortAudio flagged as output underflow (a dropout)
        self.starts = 0  # times the stream was started for new audio
        self._thread = threading.Thread(target=self._own, name="tts-speaker", daemon=True)
        self._index = -1

    # -- the API the event loop uses (no PortAudio calls) -----------------------------------
    def start(self, timeout: float = 5.0) -> None:
        """Resolve the device and open it (waiting up to ``timeout`` for the first attempt)."""
        self._index = require_device("output", self.device)
        info = _sounddevice().query_devices(self._index)
        self.rate = int(self.requested_rate or info["default_samplerate"])
        self._thread.start()
        self._ready.wait(timeout)

    @property
    def up(self) -> bool:
        """The stream is open and its callback is running."""
        return self._up

    @property
    def buffered_s(self) -> float:
        return self._buffered / self.rate

    def push(self, samples: Int16Array) -> None:
        """Queue mono samples at :attr:`rate` for playback (dropped while the device is down)."""
        if samples.size == 0:
            return
        with self._lock:
            self._blocks.append(samples)
            self._buffered += int(samples.size)
            while self._buffered > _MAX_BUFFER_S * self.rate and len(self._blocks) > 1:
                self._buffered -= int(self._blocks.popleft().size)
            idle = not self._running
        if idle:
            self._wake.set()  # the owner thread starts the stream

    def clear(self) -> None:
        """Drop everything not yet handed to the device: silence after the device latency."""
        with self._lock:
            self._blocks.clear()
            self._buffered = 0

    def close(self) -> None:
        self._closing = True
        self.clear()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(5)

    # -- PortAudio's thread ---------------------------------------------------------------------
    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        self._last_callback = time.monotonic()
        if status and status.output_underflow:
            self.underflows += 1
        out = outdata[:, 0]
        filled = 0
        with self._lock:
            while filled < frames and self._blocks:
                block = self._blocks[0]
                n = min(frames - filled, int(block.size))
                out[filled:filled + n] = block[:n]
                filled += n
                if n == block.size:
                    self._blocks.popleft()
                else:
                    self._blocks[0] = block[n:]
            self._buffered -= filled
        out[filled:] = 0
        if self.channels > 1:
            outdata[:, 1:] = outdata[:, :1]
        if filled:
            self._played += filled
            self._last_audio = self._last_callback
            if self.on_ref is not None:
                dac, now = float(time_info.outputBufferDacTime), float(time_info.currentTime)
                ahead = dac - now if dac > 0 and now > 0 and 0 <= dac - now < 1 else self.device_latency_s
                with contextlib.suppress(Exception):
                    self.on_ref(out.copy(), self.rate, time.time() + ahead + self.ref_delay_s)

    # -- the owner thread ------------------------------------------------------------------------
    def _own(self) -> None:
        stream: Any = None
        down_logged = False
        rescan = False
        while not self._closing:
            if stream is None:
                try:
                    stream = self._open(rescan)
                except Exception as exc:  # PortAudioError, NoAudioDeviceError, ...
                    if not down_logged:
                        log.warning("speaker unavailable (%s); retrying every %g s, replies still "
                                    "go to MQTT audio / WAV", one_line(exc), self.reopen_s)
                        down_logged = True
                    self._ready.set()
                    rescan, self._running = True, False
                    self._wake.wait(self.reopen_s)
                    self._wake.clear()
                    continue
                if down_logged:
                    log.warning("speaker is back: %s", self._describe(stream))
                else:
                    log.info("speaker open: %s", self._describe(stream))
                down_logged, self._up = False, True
                self._ready.set()
            self._wake.wait(0.25)
            self._wake.clear()
            if self._closing:
                break
            problem = self._tend(stream)
            if problem is not None:
                log.warning("speaker lost (%s); reopening when it is back", problem)
                down_logged = True
                self._up = self._running = False
                self.clear()
                close_quietly(stream)
                stream = None
                rescan = True
        if stream is not None:
            close_quietly(stream)

    def _tend(self, stream: Any) -> str | None:
        """Start the stream for new audio, stop it once idle; what is wrong with it, if anything."""
        now = time.monotonic()
        if not self._running:
            if self._buffered > 0:
                self._last_callback = self._last_audio = now
                self._running = True
                try:
                    stream.start()  # primed by the callback: the new audio is the first out
                except Exception as exc:  # PortAudioError: the device went while stopped
                    return one_line(exc)
                self.starts += 1
            return None
        if not stream.active:
            return "stream stopped"
        if now - self._last_callback > _STALL_S:
            return "no audio callbacks"
        with self._lock:
            idle = self._buffered == 0 and now - self._last_audio > self.idle_s
            if idle:
                self._running = False
        if idle:
            try:
                stream.abort()  # only silence was queued
            except Exception as exc:
                return one_line(exc)
        return None

    def _open(self, rescan: bool) -> Any:
        sd = _sounddevice()
        if rescan:  # PortAudio lists devices once; a device plugged back in needs a re-scan
            sd._terminate()
            sd._initialize()
            self._index = require_device("output", self.device)
        info = sd.query_devices(self._index)
        own = int(info["default_samplerate"])
        try:
            return self._open_at(sd, info, self.rate)
        except NoAudioDeviceError as exc:
            if self.rate == own or "sample rate" not in str(exc).lower():
                raise
            log.warning("speaker: %s; using the device's own rate, %d Hz", one_line(exc), own)
            self.rate = own
            return self._open_at(sd, info, own)

    def _open_at(self, sd: Any, info: Any, rate: int) -> Any:
        for channels in dict.fromkeys((1, min(2, int(info["max_output_channels"])))):
            try:
                stream = sd.OutputStream(
                    device=self._index, samplerate=rate, channels=channels, dtype="int16",
                    blocksize=rate * self.block_ms // 1000, latency=self.latency_s,
                    callback=self._callback, prime_output_buffers_using_stream_callback=True)
            except sd.PortAudioError as exc:
                if channels > 1 or int(info["max_output_channels"]) < 2:
                    raise NoAudioDeviceError(
                        f"cannot open output device {info['name']!r} at {rate} Hz: {exc}"
                    ) from exc
                continue
            self.channels = channels
            self._last_callback = self._last_audio = time.monotonic()
            self._running = True
            stream.start()  # proves the device plays; stopped again once idle
            self.device_latency_s = float(stream.latency)
            return stream
        raise NoAudioDeviceError(f"cannot open output device {info['name']!r}")  # pragma: no cover

    def _describe(self, stream: Any) -> str:
        name = _sounddevice().query_devices(self._index)["name"]
        return f"{name!r}, {self.rate} Hz, {self.channels} ch, {stream.latency * 1000:.0f} ms latency"


class SpeakerSink:
    """Plays replies on the local speaker through one always-open :class:`SpeakerOutput`.

    Construction checks the device and raises ``tars.audio.NoAudioDeviceError`` (one line)
    when there is none. Replies are resampled to the device rate and queued at most
    ``lead_s`` ahead of real time; ``abort()`` drops what is queued (the stop path).
    ``on_ref`` sees every block that reaches the device (see :data:`RefCallback`).
    """

    def __init__(self, device: str | int | None = None, *, rate: int | None = None,
                 latency_s: float = 0.06, lead_s: float = 0.2, on_ref: RefCallback | None = None,
                 ref_delay_s: float = 0.0, output: SpeakerOutput | None = None) -> None:
        self.output = output or SpeakerOutput(device, rate=rate, latency_s=latency_s,
                                              on_ref=on_ref, ref_delay_s=ref_delay_s)
        if output is None:
            self.output.start()
        self.pacer = Pacer(1.0, lead_s)
        self._resampler = StreamResampler(self.output.rate, self.output.rate)
        self._rate = 0
        self._open = False

    @property
    def pace(self) -> float:
        return self.pacer.pace

    @property
    def rate(self) -> int:
        return self.output.rate

    async def begin(self, reply_id: str, sample_rate: int) -> None:
        self.output.clear()
        self._rate = sample_rate
        self._resampler = StreamResampler(sample_rate, self.output.rate)
        self._open = True
        self.pacer.reset()

    async def write(self, samples: Int16Array) -> None:
        if not self._open:
            raise RuntimeError("SpeakerSink.write() before begin()")
        await self.pacer.wait(int(samples.size), self._rate)
        self.output.push(self._resampler.process(samples))

    async def end(self) -> None:
        """Return once the queued audio has played (real time if the device is down)."""
        self._open = False
        for _ in range(int(self.output.buffered_s * 100) + 100):  # polls at 10 ms, bounded
            if not self.output.up or self.output.buffered_s <= 0:
                break
            await asyncio.sleep(max(0.005, min(0.05, self.output.buffered_s)))
        if self.output.up:
            await asyncio.sleep(self.output.device_latency_s)
        else:
            await self.pacer.drain()

    async def abort(self) -> None:
        self._open = False
        self.output.clear()

    def play_now(self, samples: Int16Array) -> None:
        """Queue a short sound at the device rate at once (the wake earcon), outside replies."""
        self.output.push(samples)

    async def close(self) -> None:
        await asyncio.to_thread(self.output.close)



@functools.lru_cache(maxsize=8)
def earcon(rate: int, *, volume: float = 0.25) -> Int16Array:
    """A short rising two-note chime (about 0.14 s), generated once per rate (read-only), no file."""
    parts = []
    for hz, ms in ((880.0, 60), (1320.0, 80)):
        n = rate * ms // 1000
        t = np.arange(n) / rate
        fade = np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / (0.008 * rate))
        parts.append(np.sin(2 * np.pi * hz * t) * fade)
    out: Int16Array = (np.concatenate(parts) * volume * 32767).astype(np.int16)
    out.setflags(write=False)
    return out


__all__ = ["RefCallback", "SpeakerOutput", "SpeakerSink", "earcon"]
