"""First audio through the speaker sink: from a say request to the first reply sample at the DAC."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio import NoAudioDeviceError
from tars_tts.events import SayRequest, SpeakingStarted, SpeechEvent
from tars_tts.player import SpeechQueue
from tars_tts.speaker import SpeakerSink
from tars_tts.synth import Synthesizer

_PROBE = ("import sounddevice as sd, sys; "
          "sys.exit(0 if any(d['max_output_channels'] > 0 for d in sd.query_devices()) else 1)")


def has_output_device() -> bool:
    """Does this machine have an output device? (Asked in a child: PortAudio scans once.)"""
    try:
        return subprocess.run([sys.executable, "-c", _PROBE], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextlib.contextmanager
def speaker_environment(mode: str) -> Iterator[str | None]:
    """Yield which speaker the bench uses: "device" (this machine's), "virtual" (the virtual
    sound card, when there is no device and PulseAudio is installed) or None (neither)."""
    if mode == "device" or (mode == "auto" and has_output_device()):
        yield "device"
        return
    from tars.testing import soundcard

    if mode == "off" or not soundcard.available():
        yield None
        return
    saved = dict(os.environ)
    with soundcard.virtual_sound_card() as card:
        os.environ.update(card.env)  # read by PortAudio when it starts, below
        try:
            yield "virtual"
        finally:
            os.environ.clear()
            os.environ.update(saved)


async def measure_speaker(synth: Synthesizer, sentences: list[str],
                          device: str | None = None) -> dict[str, Any]:
    """Speak each sentence on the speaker; time say -> first sample handed to the sink and
    say -> first reply sample at the DAC (PortAudio's output time, on the wall clock)."""
    current: list[str] = [""]
    at_dac: dict[str, float] = {}

    def on_ref(block: npt.NDArray[np.int16], rate: int, dac_ts: float) -> None:
        at_dac.setdefault(current[0], dac_ts)

    try:
        sink = await asyncio.to_thread(SpeakerSink, device, on_ref=on_ref)
    except NoAudioDeviceError as exc:
        return {"speaker": f"unavailable: {exc}"}
    started: dict[str, SpeakingStarted] = {}

    async def record(event: SpeechEvent) -> None:
        if isinstance(event, SpeakingStarted):
            started[event.correlation_id] = event

    said: dict[str, float] = {}
    try:
        await asyncio.sleep(0.3)  # the stream is open and running, as in the worker
        async with SpeechQueue(synth, sink, on_event=record) as queue:
            for i, text in enumerate(sentences):
                cid = f"speaker-{i}"
                current[0] = cid
                said[cid] = time.time()
                await queue.say(SayRequest(text, cid))
                await queue.wait_idle()
                await asyncio.sleep(0.1)
    finally:
        await sink.close()
    dac = [(at_dac[c] - said[c]) * 1000 for c in said if c in at_dac]
    sample = [(s.first_sample_at - said[c]) * 1000 for c, s in started.items()]
    if not dac:
        return {"speaker": "no audio reached the device"}
    return {"speaker_replies": len(dac),
            "speaker_first_sample_p50_ms": round(statistics.median(sample), 1),
            "speaker_first_audio_p50_ms": round(statistics.median(dac), 1),
            "speaker_first_audio_max_ms": round(max(dac), 1)}


__all__ = ["has_output_device", "measure_speaker", "speaker_environment"]
