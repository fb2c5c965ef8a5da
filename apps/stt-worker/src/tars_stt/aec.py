"""Acoustic echo cancellation: a ctypes binding of libspeexdsp's echo canceller, fed by wall clock."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from tars.audio import SAMPLE_RATE
from tars.errors import TarsError
from tars_stt.delay import estimate_delay
from tars_stt.refring import ReferenceRing

Int16Array = npt.NDArray[np.int16]
log = logging.getLogger("tars_stt.aec")

SPEEX_ECHO_SET_SAMPLING_RATE = 24
SPEEX_PREPROCESS_SET_DENOISE = 0
SPEEX_PREPROCESS_SET_ECHO_STATE = 24
_SHORTS = ctypes.POINTER(ctypes.c_int16)
REBASE_S = 0.015


class AecUnavailable(TarsError, RuntimeError):
    """libspeexdsp cannot be loaded: echo cancellation is off."""


_LIB: ctypes.CDLL | None = None


def speexdsp() -> ctypes.CDLL:
    """The loaded library with its prototypes; raises AecUnavailable (one clear line)."""
    global _LIB
    if _LIB is not None:
        return _LIB
    name = ctypes.util.find_library("speexdsp")
    if name is None:
        raise AecUnavailable("libspeexdsp not found (Debian package libspeexdsp1)")
    try:
        lib = ctypes.CDLL(name)
        lib.speex_echo_state_init.restype = ctypes.c_void_p
        lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
        lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, _SHORTS, _SHORTS, _SHORTS]
        lib.speex_preprocess_state_init.restype = ctypes.c_void_p
        lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
        lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
        lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, _SHORTS]
    except (OSError, AttributeError) as exc:
        raise AecUnavailable(f"cannot load {name}: {exc}") from exc
    _LIB = lib
    return lib


def _ptr(a: Int16Array) -> ctypes._Pointer[ctypes.c_int16]:
    return a.ctypes.data_as(_SHORTS)


class SpeexEchoCanceller:
    """One speex echo state (+ optional residual echo suppressor); frames of ``frame_size``."""

    def __init__(self, frame_size: int = 320, filter_length: int = 4800, *,
                 rate: int = SAMPLE_RATE, suppress: bool = True) -> None:
        self._lib = speexdsp()
        self.frame_size = frame_size
        self._st = self._lib.speex_echo_state_init(frame_size, filter_length)
        if not self._st:
            raise AecUnavailable("speex_echo_state_init failed")
        r = ctypes.c_int(rate)
        self._lib.speex_echo_ctl(self._st, SPEEX_ECHO_SET_SAMPLING_RATE, ctypes.byref(r))
        self._pp: int | None = None
        if suppress:
            self._pp = self._lib.speex_preprocess_state_init(frame_size, rate)
            off = ctypes.c_int(0)
            self._lib.speex_preprocess_ctl(self._pp, SPEEX_PREPROCESS_SET_DENOISE, ctypes.byref(off))
            self._lib.speex_preprocess_ctl(self._pp, SPEEX_PREPROCESS_SET_ECHO_STATE,
                                           ctypes.c_void_p(self._st))
        self._out = np.zeros(frame_size, dtype=np.int16)

    def process(self, rec: Int16Array, play: Int16Array) -> Int16Array:
        """The microphone frame ``rec`` with the echo of ``play`` (same length) removed."""
        if self._st is None:
            raise RuntimeError("echo canceller closed")
        rec = np.ascontiguousarray(rec, dtype=np.int16)
        play = np.ascontiguousarray(play, dtype=np.int16)
        if rec.size != self.frame_size or play.size != self.frame_size:
            raise ValueError(f"frames of {self.frame_size} samples expected")
        out = np.empty(self.frame_size, dtype=np.int16)
        self._lib.speex_echo_cancellation(self._st, _ptr(rec), _ptr(play), _ptr(out))
        if self._pp is not None:
            self._lib.speex_preprocess_run(self._pp, _ptr(out))
        return out

    def reset(self) -> None:
        if self._st is not None:
            self._lib.speex_echo_state_reset(self._st)

    def close(self) -> None:
        if self._pp is not None:
            self._lib.speex_preprocess_state_destroy(self._pp)
            self._pp = None
        if self._st is not None:
            self._lib.speex_echo_state_destroy(self._st)
            self._st = None

    def __del__(self) -> None:
        self.close()


class AecSettings(BaseModel):
    """Knobs of the echo canceller (``[stt.aec]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=False, description="echo-cancel the local microphone (what stt hears and the "
        'frames it shares for the wake word) whatever the duplex mode; implied by duplex.mode "aec"')
    frame_ms: int = Field(default=20, ge=10, le=40)
    filter_ms: int = Field(default=200, ge=50, le=1000, description="longest echo path covered")
    lead_s: float = Field(
        default=0.04, ge=0.0, le=0.5, description="the speaker reference is fed this much before "
        "its echo (the measured echo delay, or none yet): the filter then covers the room's tail")
    mic_delay_s: float = Field(default=0.0, ge=0.0, le=1.0,
                               description="input latency the device does not report")
    suppress: bool = Field(default=True, description="speex residual echo suppression")
    track_delay: bool = Field(default=True, description="measure the echo delay (GCC-PHAT on "
                              "the last window_s, every second the speaker plays) and follow it")
    window_s: float = Field(default=2.0, ge=0.5, le=5.0)
    hold_s: float = Field(
        default=0.1, ge=0.0, le=0.5, description="while the speaker plays, a microphone frame "
        "waits at most this long for its speaker reference (a loaded tts worker's frames come "
        "late over the bus); an idle speaker adds no wait")


@dataclass
class AecStats:
    """Energy in and out while the speaker played (for echo return loss enhancement)."""

    frames: int = 0
    echo_frames: int = 0
    in_energy: float = 0.0
    out_energy: float = 0.0
    delay_changes: int = 0
    late_frames: int = 0
    """Frames cancelled without their whole reference: it had not come after ``hold_s``."""

    @property
    def erle_db(self) -> float | None:
        if self.out_energy <= 0 or self.in_energy <= 0:
            return None
        return float(10 * np.log10(self.in_energy / self.out_energy))


class MicCanceller:
    """A microphone stream in, the same stream echo-cancelled out (a frame or two later: one to
    fill a frame, one more with the residual echo suppressor).

    ``feed(chunk, arrived)`` takes a chunk as it arrives from the device (``arrived`` = wall
    clock); the capture time of each sample is estimated from the steadiest arrivals (a windowed
    minimum of arrival minus stream position) and the speaker reference is read from the ring at
    that time plus ``lead_s``. Use from one thread only.
    """

    def __init__(self, settings: AecSettings | None = None, *, rate: int = SAMPLE_RATE,
                 ring: ReferenceRing | None = None) -> None:
        self.settings = s = settings or AecSettings()
        self.rate = rate
        self.frame = rate * s.frame_ms // 1000
        self.speex = SpeexEchoCanceller(self.frame, rate * s.filter_ms // 1000, rate=rate,
                                        suppress=s.suppress)
        self.ring = ring or ReferenceRing(rate=rate)
        self.stats = AecStats()
        self._pending = np.zeros(0, dtype=np.int16)
        self._fed = 0  # samples fed so far (stream position of the end of _pending)
        self._offsets: deque[float] = deque(maxlen=100)  # ~3 s of 30 ms chunks
        self._base = 0.0
        self.anchors = 0
        self._refs: deque[tuple[float, Int16Array, int]] = deque(maxlen=1000)
        self.shift_s = s.lead_s
        """The reference is read at capture time + shift_s (lead_s minus the echo delay)."""
        self.delay_s: float | None = None
        self._hist = np.zeros(int(s.window_s * rate), dtype=np.int16)
        self._next_check = self._hist.size
        self._candidate: float | None = None

    def add_reference(self, ts: float, samples: Int16Array, rate: int) -> None:
        """Any thread: kept until the next :meth:`feed`, then written in stamp order."""
        self._refs.append((ts, samples, rate))

    def _drain_references(self) -> None:
        refs = []
        while self._refs:
            refs.append(self._refs.popleft())
        for ts, samples, rate in sorted(refs, key=lambda r: r[0]):
            self.ring.write(ts, samples, rate)

    def capture_ts(self, position: int) -> float:
        """Estimated wall time at which stream sample ``position`` was captured."""
        return self._base + position / self.rate - self.settings.mic_delay_s

    def _rebase(self, arrived: float) -> None:
        """The stream is sample-exact; its wall-clock anchor moves only when the steadiest recent
        arrivals (a 3 s minimum of arrival minus position) say it is REBASE_S off (lost audio,
        a stall, drift)."""
        self._offsets.append(arrived - self._fed / self.rate)
        floor = min(self._offsets)
        if self.anchors == 0 or abs(floor - self._base) > REBASE_S:
            self._base = floor
            self.anchors += 1
        elif floor < self._base and len(self._offsets) < (self._offsets.maxlen or 0):
            self._base = floor  # the first seconds: settle on the steadiest arrival

    def feed(self, chunk: Int16Array, arrived: float) -> Int16Array:
        """Cancel the echo in ``chunk``; returns the cancelled samples ready so far."""
        self._drain_references()
        self._fed += int(chunk.size)
        self._rebase(arrived)
        pending = np.concatenate([self._pending, chunk.astype(np.int16, copy=False)])
        start = self._fed - pending.size
        outs: list[Int16Array] = []
        k = 0
        while (k + 1) * self.frame <= pending.size:
            ts = self.capture_ts(start + k * self.frame) + self.shift_s
            if not self._reference_ready(ts, arrived):
                break
            rec = pending[k * self.frame:(k + 1) * self.frame]
            play = self.ring.read(ts, self.frame)
            out = self.speex.process(rec, play)
            self._account(rec, play, out)
            outs.append(out)
            k += 1
        self._pending = pending[k * self.frame:].copy()
        self._track(chunk)
        return np.concatenate(outs) if outs else np.zeros(0, dtype=np.int16)

    def _reference_ready(self, ts: float, now: float) -> bool:
        """Whether the frame whose reference starts at wall time ``ts`` can be cancelled now: its
        reference has come, the speaker is idle (nothing since ``hold_s`` before it), or it has
        waited ``hold_s`` (then it goes with what there is, counted as late)."""
        end, need, hold = self.ring.end_ts, ts + self.frame / self.rate, self.settings.hold_s
        if end >= need or end < ts - hold:
            return True
        if now < need + hold:
            return False
        self.stats.late_frames += 1
        return True

    def _track(self, chunk: Int16Array) -> None:
        """Every second of microphone audio, measure the echo delay; follow it once confirmed."""
        if not self.settings.track_delay:
            return
        h, n = self._hist, min(chunk.size, self._hist.size)
        h[:-n] = h[n:].copy()
        h[-n:] = chunk[-n:]
        if self._fed < self._next_check:
            return
        self._next_check = self._fed + self.rate
        est = estimate_delay(h, self.capture_ts(self._fed - h.size), self.ring)
        if est is None or est.confidence < 12.0:
            return
        if self._candidate is None or abs(est.delay_s - self._candidate) > 0.004:
            self._candidate = est.delay_s  # wait for a second estimate to agree
            return
        self.delay_s = est.delay_s
        shift = self.settings.lead_s - est.delay_s
        echo_in_filter = est.delay_s + self.shift_s  # where the echo sits in the filter
        if not 0.005 <= echo_in_filter <= self.settings.filter_ms / 1000 - 0.06:
            self.shift_s = shift
            self.speex.reset()
            self.stats.delay_changes += 1
            log.info("echo delay %.0f ms (confidence %.0f): reference shifted by %+.0f ms "
                     "(microphone re-anchored %d times, speaker %d)", est.delay_s * 1000,
                     est.confidence, shift * 1000, self.anchors, self.ring.anchors)

    def _account(self, rec: Int16Array, play: Int16Array, out: Int16Array) -> None:
        st = self.stats
        st.frames += 1
        if np.abs(play).max(initial=0) > 100:
            st.echo_frames += 1
            st.in_energy += float(np.square(rec, dtype=np.float64).sum())
            st.out_energy += float(np.square(out, dtype=np.float64).sum())

    def close(self) -> None:
        self.speex.close()


__all__ = ["AecSettings", "AecStats", "AecUnavailable", "MicCanceller", "SpeexEchoCanceller",
           "speexdsp"]
