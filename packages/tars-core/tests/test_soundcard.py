"""The virtual sound card: sounddevice sees and opens its mic and speaker; echo and device loss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from tars.testing.soundcard import VirtualSoundCard

# Runs in a child process (PortAudio reads the environment when it starts): lists the devices,
# plays a 0.6 s tone on the default output, then records 1.2 s from the default input.
_CHILD = r"""
import json, sys, time
import numpy as np
import sounddevice as sd
devices = [{"name": d["name"], "in": d["max_input_channels"], "out": d["max_output_channels"]}
           for d in sd.query_devices()]
tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(28800) / 48000)).astype(np.int16)
pos = [0]
def play(out, frames, info, status):
    n = min(frames, tone.size - pos[0])
    out[:n, 0] = tone[pos[0]:pos[0] + n]
    out[n:] = 0
    pos[0] += n
started = time.time()
with sd.OutputStream(samplerate=48000, channels=1, dtype="int16", latency=0.03, callback=play):
    time.sleep(1.0)
print(json.dumps({"devices": devices, "default": list(sd.default.device), "t": started}))
sys.stdout.flush()
sys.stdin.readline()
got = []
with sd.InputStream(samplerate=16000, channels=1, dtype="int16", blocksize=480,
                    callback=lambda d, f, i, s: got.append(d[:, 0].copy())):
    time.sleep(1.2)
mic = np.concatenate(got)
print(json.dumps({"mic_rms": float(np.sqrt((mic.astype(float) ** 2).mean())), "n": int(mic.size)}))
"""


def _tone(hz: float, seconds: float, rate: int = 16_000, amp: float = 8000) -> np.ndarray:  # type: ignore[type-arg]
    return (amp * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.int16)


def test_sounddevice_lists_and_opens_the_virtual_mic_and_speaker(sound_card: VirtualSoundCard) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD], env={**os.environ, **sound_card.env},
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    first = json.loads(child.stdout.readline())
    assert any(d["name"] == "default" and d["in"] > 0 and d["out"] > 0 for d in first["devices"])
    assert min(first["default"]) >= 0
    heard = sound_card.speaker(first["t"] - 0.5)
    start, end = heard.first_sound_ts(), heard.last_sound_ts()
    assert start is not None and end is not None, "the tone never reached the speaker sink"
    assert 0.45 <= end - start <= 0.8  # a 0.6 s tone, in real time
    assert start - first["t"] < 0.5
    player = sound_card.play(_tone(300, 2.0), wait=False)
    child.stdin.write("\n")
    child.stdin.flush()
    second = json.loads(child.stdout.readline())
    child.wait(20)
    player.wait(20)
    assert second["n"] > 15_000
    assert second["mic_rms"] > 2000  # the tone played into the mic was captured


def test_echo_path_attenuates_the_speaker_into_the_mic(sound_card: VirtualSoundCard) -> None:
    def echo_rms() -> float:
        since = time.time()
        sound_card.play(_tone(500, 1.0, rate=48_000), 48_000, device="speaker")
        mic = sound_card.mic(since).samples.astype(np.float64)
        return float(np.sqrt(np.mean(mic**2))) if mic.size else 0.0

    assert echo_rms() < 30  # no echo path by default
    sound_card.set_echo(20.0)
    quiet = echo_rms()
    sound_card.set_echo(6.0)
    loud = echo_rms()
    sound_card.set_echo(None)
    assert 50 < quiet < loud
    assert 10 <= 20 * np.log10(loud / quiet) <= 18  # 14 dB apart, within the recording's slack
    assert echo_rms() < 30


def test_unloaded_sink_disappears_and_comes_back(sound_card: VirtualSoundCard) -> None:
    assert set(sound_card.sinks()) == {"mic", "speaker"}
    sound_card.unload_sink("speaker")
    assert sound_card.sinks() == ["mic"]
    sound_card.load_sink("speaker")
    assert set(sound_card.sinks()) == {"mic", "speaker"}
    time.sleep(0.5)  # the recorder reconnects to the new monitor
    since = time.time()
    sound_card.play(_tone(440, 0.5, rate=48_000), 48_000, device="speaker")
    assert sound_card.speaker(since).last_sound_ts() is not None
