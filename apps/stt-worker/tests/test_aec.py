"""Echo cancellation: the speex binding on synthetic echo, the wall-clock reference, the policy."""

from __future__ import annotations

import asyncio
import ctypes.util
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from tars_stt import aec as aec_mod
from tars_stt.aec import AecSettings, AecUnavailable, MicCanceller, SpeexEchoCanceller
from tars_stt.aecrun import EchoCancelling
from tars_stt.duplex import DuplexPolicy, DuplexSettings
from tars_stt.refring import ReferenceRing

Speech = npt.NDArray[np.int16]
SR = 16_000
ROOM = np.zeros(1200)
ROOM[[0, 180, 420, 900]] = [1.0, 0.45, -0.25, 0.1]  # direct path + three reflections


def energy_db(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> float:
    ea = float(np.square(a.astype(np.float64)).sum())
    eb = float(np.square(b.astype(np.float64)).sum()) or 1e-9
    return 10 * float(np.log10(ea / eb))


def echo_of(far: Speech, delay_s: float, atten_db: float) -> npt.NDArray[np.float64]:
    d = int(delay_s * SR)
    delayed = np.concatenate([np.zeros(d), far.astype(np.float64)])[: far.size]
    return np.convolve(delayed, ROOM)[: far.size] * 10 ** (-atten_db / 20)


def far_end(say: Callable[[str, str], Speech]) -> Speech:
    a = say("piper", "The weather today is sunny with a light breeze from the west, and the "
                     "temperature will reach twenty two degrees by the afternoon.")
    return np.concatenate([a, a])[: 10 * SR]


def test_reference_ring_by_wall_time() -> None:
    ring = ReferenceRing(max_s=1.0)
    t0 = 1_700_000_000.0
    ring.write(t0, np.full(1600, 7, dtype=np.int16))  # 0.1 s
    ring.write(t0 + 0.2, np.full(1600, 9, dtype=np.int16))  # after a 0.1 s gap
    got = ring.read(t0 - 0.05, 4800)
    assert (got[:800] == 0).all() and (got[800:2400] == 7).all()
    assert (got[2400:4000] == 0).all() and (got[4000:4800] == 9).all()
    ring.write(t0 + 2.0, np.full(320, 5, dtype=np.int16))  # more than max_s later: all else gone
    assert (ring.read(t0, 3200) == 0).all()
    assert (ring.read(t0 + 2.0, 320) == 5).all()
    ring.write(t0 + 2.02, np.full(32000, 3, dtype=np.int16), rate=SR)  # wraps round
    assert (ring.read(t0 + 4.02 - 0.5, 320) == 3).all()
    assert ring.end_ts == pytest.approx(t0 + 4.02, abs=1e-3)


def test_jittered_stamps_continue_the_reference_exactly() -> None:
    """The speaker stamps each frame from its callback's clock: a few samples off either way."""
    ring = ReferenceRing(max_s=2.0)
    t0, rng = 500.0, np.random.default_rng(3)
    ramp = np.arange(16000, dtype=np.int16)
    for i in range(0, ramp.size, 480):
        jitter = float(rng.uniform(-0.0003, 0.0003)) if i else 0.0
        ring.write(t0 + i / SR + jitter, ramp[i:i + 480])
    assert (ring.read(t0, 16000) == ramp).all()
    ring.write(t0 + 1.5, ramp[:480])  # a real gap (the speaker had nothing to play): silence
    assert (ring.read(t0 + 1.0, 8000) == 0).all() and (ring.read(t0 + 1.5, 480) == ramp[:480]).all()


def test_ring_resamples_other_rates() -> None:
    ring = ReferenceRing(max_s=2.0)
    ring.write(100.0, np.full(4800, 1000, dtype=np.int16), rate=48_000)  # 0.1 s at 48 kHz
    got = ring.read(100.0, 1600)
    assert np.abs(got[200:1400].astype(int) - 1000).max() < 50


def test_speex_removes_a_delayed_attenuated_echo_and_keeps_the_near_end(
        say: Callable[[str, str], Speech]) -> None:
    far = far_end(say)
    near = say("espeak", "stop")
    echo = echo_of(far, 0.06, 6.0)
    mic_f = echo.copy()
    at = 8 * SR  # the user speaks over the reply after 8 s (the filter has converged)
    mic_f[at:at + near.size] += near
    mic = np.clip(mic_f, -32768, 32767).astype(np.int16)
    speex = SpeexEchoCanceller(320, 4800, suppress=False)
    out = np.concatenate([speex.process(mic[i:i + 320], far[i:i + 320])
                          for i in range(0, far.size - 319, 320)])
    speex.close()
    echo_only = slice(4 * SR, at)
    erle = energy_db(mic[echo_only], out[echo_only])
    assert erle >= 10.0, f"ERLE {erle:.1f} dB"
    talk = slice(at, at + near.size)
    kept = out[talk].astype(np.float64)
    assert abs(energy_db(kept, near)) < 3.0  # the near end is kept at its level
    residual = energy_db(near, kept - near)
    assert residual >= 6.0, f"near end only {residual:.1f} dB above what is left of the echo"


def test_mic_canceller_aligns_the_reference_by_wall_clock(
        say: Callable[[str, str], Speech]) -> None:
    """The speaker reference arrives as wall-clock frames; the mic as jittered device chunks."""
    far = far_end(say)
    t0 = 1_750_000_000.0
    acoustic_delay = 0.03  # DAC -> air -> ADC
    mic = np.clip(echo_of(far, acoustic_delay, 12.0), -32768, 32767).astype(np.int16)
    aec = MicCanceller(AecSettings(suppress=False))
    for i in range(0, far.size, 480):  # the tts worker's reference frames (30 ms)
        aec.add_reference(t0 + i / SR, far[i:i + 480], SR)
    rng = np.random.default_rng(1)
    outs = []
    for i in range(0, mic.size, 480):  # captured at t0 + i/SR, delivered 30-45 ms later
        arrived = t0 + (i + 480) / SR + 0.005 + float(rng.uniform(0, 0.015))
        outs.append(aec.feed(mic[i:i + 480], arrived))
    out = np.concatenate(outs)
    # the last frames wait for a reference that no longer comes (at most hold_s)
    assert mic.size - 0.1 * SR - 640 <= out.size <= mic.size - mic.size % 320
    assert aec.capture_ts(0) == pytest.approx(t0 + 0.005, abs=0.002)
    erle = energy_db(mic[4 * SR:out.size], out[4 * SR:])
    assert erle >= 10.0, f"ERLE {erle:.1f} dB"
    assert aec.stats.echo_frames > 0 and (aec.stats.erle_db or 0.0) > 3.0  # incl. convergence
    aec.close()


@pytest.mark.parametrize("delay_s", [-0.12, 0.35])
def test_mic_canceller_follows_an_unknown_echo_delay(
        delay_s: float, say: Callable[[str, str], Speech]) -> None:
    """Input or output latency nobody reported: the echo delay is measured and followed."""
    far = far_end(say)
    t0 = 1_760_000_000.0
    mic = np.clip(echo_of(far, 0.5 + delay_s, 6.0), -32768, 32767).astype(np.int16)
    aec = MicCanceller(AecSettings(suppress=False))
    for i in range(0, far.size, 480):
        aec.add_reference(t0 + 0.5 + i / SR, far[i:i + 480], SR)  # mic(t) = ref(t - delay)
    out = np.concatenate([aec.feed(mic[i:i + 480], t0 + (i + 480) / SR)
                          for i in range(0, mic.size, 480)])
    assert aec.delay_s == pytest.approx(delay_s, abs=0.003)
    erle = energy_db(mic[6 * SR:out.size], out[6 * SR:])
    assert erle >= 10.0, f"ERLE {erle:.1f} dB"
    aec.close()


def cancel_with_late_reference(far: Speech, mic: Speech, t0: float, late_s: float,
                               hold_s: float) -> tuple[Speech, MicCanceller]:
    """Frames delivered in time order: the mic 5 ms after each 30 ms chunk, each reference frame
    ``late_s`` after the speaker played it (a loaded tts worker, a busy broker)."""
    aec = MicCanceller(AecSettings(suppress=False, hold_s=hold_s))
    refs = [(t0 + i / SR, far[i:i + 480]) for i in range(0, far.size, 480)]
    outs = []
    for i in range(0, mic.size, 480):
        arrived = t0 + (i + 480) / SR + 0.005
        while refs and refs[0][0] + late_s <= arrived:
            ts, samples = refs.pop(0)
            aec.add_reference(ts, samples, SR)
        outs.append(aec.feed(mic[i:i + 480], arrived))
    return np.concatenate(outs), aec


def test_a_late_reference_is_waited_for_while_the_speaker_plays(
        say: Callable[[str, str], Speech]) -> None:
    far = far_end(say)
    t0 = 1_770_000_000.0
    mic = np.clip(echo_of(far, 0.03, 12.0), -32768, 32767).astype(np.int16)
    waited, aec = cancel_with_late_reference(far, mic, t0, late_s=0.07, hold_s=0.1)
    assert aec.stats.late_frames == 0
    assert waited.size >= mic.size - 0.2 * SR  # held back at most a little
    assert energy_db(mic[4 * SR:waited.size], waited[4 * SR:]) >= 10.0
    aec.close()
    unheld, aec = cancel_with_late_reference(far, mic, t0, late_s=0.07, hold_s=0.0)
    assert aec.stats.echo_frames < 10  # without the wait each frame goes before its reference
    assert energy_db(mic[4 * SR:unheld.size], unheld[4 * SR:]) < 6.0
    aec.close()


def test_no_reference_passes_the_microphone_through(say: Callable[[str, str], Speech]) -> None:
    near = say("espeak", "what time is it")
    aec = MicCanceller()
    out = np.concatenate([aec.feed(near[i:i + 480], 10.0 + (i + 480) / SR)
                          for i in range(0, near.size, 480)])
    y, x = out.astype(np.float64), near[:out.size].astype(np.float64)
    lag = max(range(0, 641, 320), key=lambda k: float(np.dot(y[k:], x[:x.size - k])))
    assert lag <= 320  # the residual echo suppressor delays by one frame
    assert abs(energy_db(y[lag:], x[:x.size - lag])) < 1.0
    assert np.corrcoef(y[lag:], x[:x.size - lag])[0, 1] > 0.95
    aec.close()


def test_aec_policy_listens_only_on_cancelled_sites() -> None:
    policy = DuplexPolicy(DuplexSettings(mode="aec"))
    policy.cancelled.add("kitchen")
    for site in ("kitchen", "hall"):
        policy.tts_started(site, at=100.0)
    assert not policy.should_drop("kitchen", now=101.0)
    assert policy.should_drop("hall", now=101.0)  # not cancelled: half duplex
    policy.mute("kitchen")
    assert policy.should_drop("kitchen", now=101.0)


def test_missing_library_is_one_line_and_half_duplex(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(aec_mod, "_LIB", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(AecUnavailable):
        aec_mod.speexdsp()
    with caplog.at_level("WARNING", logger="tars_stt.aec"):
        got = asyncio.run(EchoCancelling.open(AecSettings()))
    assert got is None
    assert [r.message for r in caplog.records if "half duplex" in r.message]
