"""The echo reference: what the local speaker really played, as 16 kHz frames on tars/audio/{site}/ref."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import numpy as np
import numpy.typing as npt

from tars.contracts.audio import AudioFrame
from tars_tts.resampler import StreamResampler

Int16Array = npt.NDArray[np.int16]
RefPublish = Callable[[AudioFrame, bytes], Awaitable[None]]

log = logging.getLogger(__name__)
REF_RATE = 16_000
_BATCH_S = 0.03  # frames of about this length: cheap on the bus, fine for echo cancellation
_GAP_S = 0.015  # a block this far off where the last one ended starts a new run


class RefPublisher:
    """Takes blocks from the speaker's callback (:meth:`from_device`, any thread) and publishes
    them from the event loop, resampled to 16 kHz, stamped with the DAC time of the first sample.
    """

    def __init__(self, publish: RefPublish, device_rate: int) -> None:
        self.publish = publish
        self.device_rate = device_rate
        self.sent = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Int16Array, float]] = asyncio.Queue(maxsize=500)
        self._task: asyncio.Task[None] | None = None
        self._resampler = StreamResampler(REF_RATE, REF_RATE)
        self._seq = 0
        self._bus_ok = True

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="tts-ref")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def from_device(self, block: Int16Array, rate: int, dac_ts: float) -> None:
        """Called on PortAudio's thread for every block that carries audio."""
        self.device_rate = rate
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._put, block, dac_ts)

    def _put(self, block: Int16Array, dac_ts: float) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((block, dac_ts))

    async def _run(self) -> None:
        next_ts: float | None = None
        pending: list[Int16Array] = []
        start_ts = 0.0
        while True:
            try:
                block, dac_ts = await asyncio.wait_for(self._queue.get(), 0.05 if pending else None)
            except TimeoutError:  # the speaker went quiet: flush the rest of the run
                await self._send(pending, start_ts)
                pending, next_ts = [], None
                continue
            if next_ts is None or abs(dac_ts - next_ts) > _GAP_S:
                if pending:
                    await self._send(pending, start_ts)
                pending, start_ts = [], dac_ts
                self._resampler = StreamResampler(self.device_rate, REF_RATE)
            pending.append(block)
            next_ts = dac_ts + block.size / self.device_rate
            if sum(b.size for b in pending) >= _BATCH_S * self.device_rate:
                await self._send(pending, start_ts)
                pending, start_ts = [], next_ts

    async def _send(self, blocks: list[Int16Array], start_ts: float) -> None:
        samples = self._resampler.process(np.concatenate(blocks))
        if samples.size == 0:
            return
        frame = AudioFrame(sample_rate=REF_RATE, seq=self._seq, audio_time_s=round(start_ts, 4))
        self._seq += 1
        try:
            await self.publish(frame, samples.astype("<i2", copy=False).tobytes())
            self.sent += 1
            self._bus_ok = True
        except Exception as exc:  # BusError: the reference is best effort
            if self._bus_ok:
                log.warning("cannot publish the speaker reference: %s", exc)
            self._bus_ok = False


__all__ = ["REF_RATE", "RefPublisher"]
