"""The echo canceller in the worker: the local microphone through speex on its own thread,
the speaker reference from tars/audio/{site}/ref."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from tars.audio import AudioFormatError
from tars.contracts.audio import AudioFrame
from tars.runtime import Inbound, ModelExecutor
from tars_stt.aec import AecSettings, AecUnavailable, MicCanceller
from tars_stt.sources import decode_pcm

Int16Array = npt.NDArray[np.int16]
log = logging.getLogger("tars_stt.aec")


class EchoCancelling:
    """One site's microphone, echo-cancelled; every speex call runs on the ``tars-stt-aec`` thread."""

    def __init__(self, canceller: MicCanceller, executor: ModelExecutor) -> None:
        self.canceller = canceller
        self._executor = executor
        self.references = 0
        self._reported = (0.0, 0.0)
        self._late = 0

    @classmethod
    async def open(cls, settings: AecSettings) -> EchoCancelling | None:
        """The canceller, or None (one log line) when libspeexdsp is missing."""
        executor = ModelExecutor("stt-aec")
        try:
            canceller = await executor.run(MicCanceller, settings)
        except AecUnavailable as exc:
            log.warning("echo cancellation off, half duplex: %s", exc)
            executor.shutdown()
            return None
        log.info("echo cancellation on (speex, %d ms frames, %d ms filter)",
                 settings.frame_ms, settings.filter_ms)
        return cls(canceller, executor)

    async def cancel(self, chunk: Int16Array, arrived: float) -> Int16Array:
        """``chunk`` as it came from the device at wall time ``arrived``, echo removed."""
        return await self._executor.run(self.canceller.feed, chunk, arrived)

    async def on_ref(self, msg: Inbound[AudioFrame]) -> None:
        """What the speaker played (wall-clock DAC time): into the reference ring."""
        frame = msg.payload
        if not msg.pcm:
            return
        try:
            samples = decode_pcm(msg.pcm, sample_rate=frame.sample_rate,
                                 expected_rate=frame.sample_rate,
                                 sample_format=frame.sample_format, channels=frame.channels)
        except AudioFormatError as exc:
            log.debug("bad reference frame: %s", exc)
            return
        self.references += 1  # no await before this: frames are queued in arrival order
        self.canceller.add_reference(frame.audio_time_s, samples, frame.sample_rate)

    def report(self) -> None:
        """Log the echo removed since the last report (after a reply)."""
        st = self.canceller.stats
        e_in, e_out = st.in_energy - self._reported[0], st.out_energy - self._reported[1]
        self._reported = (st.in_energy, st.out_energy)
        late, self._late = st.late_frames - self._late, st.late_frames
        if e_in > 0 and e_out > 0:
            delay = self.canceller.delay_s
            log.info("echo cancellation: %.1f dB removed during the reply (echo delay %s; "
                     "microphone re-anchored %d times, speaker %d; %d frames without their "
                     "reference in time)", 10 * np.log10(e_in / e_out),
                     "not measured" if delay is None else f"{delay * 1000:.0f} ms",
                     self.canceller.anchors, self.canceller.ring.anchors, late)

    async def close(self) -> None:
        await self._executor.run(self.canceller.close)
        self._executor.shutdown()


__all__ = ["EchoCancelling"]
