"""First audio through the speaker sink: from a say request to the first reply sample at the DAC
(and, on the virtual sound card, to the first loud sample recorded off the speaker)."""

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
from tars_tts.speaker import SpeakerSink, earcon
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
def speaker_environment(mode: str) -> Iterator[tuple[str | None, Any]]:
    """Yield which speaker the bench uses: "device" (this machine's), "virtual" (the virtual
    sound card, when there is no device and PulseAudio is installed) or None (neither), and
    the virtual card (its recordings time what reached the speaker) or None."""
    if mode == "device" or (mode == "auto" and has_output_device()):
        yield "device", None
        return
    from tars.testing import soundcard

    if mode == "off" or not soundcard.available():
        yield None, None
        return
    saved = dict(os.environ)
    with soundcard.virtual_sound_card() as card:
        os.environ.update(card.env)  # read by PortAudio when it starts, below
        try:
            yield "virtual", card
        finally:
            os.environ.clear()
            os.environ.update(saved)


async def measure_speaker(synth: Synthesizer, sentences: list[str], device: str | None = None,
                          card: Any = None) -> dict[str, Any]:
    """Speak each sentence on the speaker, each after the speaker was idle (as a turn's reply
    is); time say -> first sample handed to the sink and say -> first reply sample at the DAC
    (PortAudio's output time, on the wall clock). With the virtual ``card``, also say -> first
    loud sample recorded off the speaker, and the wake earcon's push -> heard."""
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
    heard: list[float] = []
    try:
        await asyncio.sleep(_IDLE_S)  # the stream is open and idle, as in the worker
        async with SpeechQueue(synth, sink, on_event=record) as queue:
            for i, text in enumerate(sentences):
                cid = f"speaker-{i}"
                current[0] = cid
                said[cid] = time.time()
                await queue.say(SayRequest(text, cid))
                await queue.wait_idle()
                await asyncio.sleep(_IDLE_S)
                if card is not None:
                    heard.extend(_onset(card, said[cid]))
        earcon_ms = await _earcons(sink, card) if card is not None else []
    finally:
        await sink.close()
    dac = [(at_dac[c] - said[c]) * 1000 for c in said if c in at_dac]
    sample = [(s.first_sample_at - said[c]) * 1000 for c, s in started.items()]
    if not dac:
        return {"speaker": "no audio reached the device"}
    out: dict[str, Any] = {
        "speaker_replies": len(dac),
        "speaker_first_sample_p50_ms": round(statistics.median(sample), 1),
        "speaker_first_audio_p50_ms": round(statistics.median(dac), 1),
        "speaker_first_audio_max_ms": round(max(dac), 1),
        "speaker_underflows": sink.output.underflows,
        "speaker_stream_starts": sink.output.starts,
        "speaker_latency_ms": round(sink.output.device_latency_s * 1000, 1)}
    if heard:
        out["speaker_heard_p50_ms"] = round(statistics.median(heard), 1)
        out["speaker_heard_max_ms"] = round(max(heard), 1)
    if earcon_ms:
        out["earcon_heard_p50_ms"] = round(statistics.median(earcon_ms), 1)
    return out


_IDLE_S = 1.2  # longer than the speaker's idle stop: each reply starts a stopped stream


def _onset(card: Any, since: float) -> list[float]:
    """ms from ``since`` to the first loud sample recorded off the virtual speaker."""
    first = card.speaker(since).first_sound_ts()
    return [] if first is None else [(first - since) * 1000]


async def _earcons(sink: SpeakerSink, card: Any, n: int = 3) -> list[float]:
    """The wake earcon, ``n`` times on an idle speaker: ms from its push to heard."""
    out: list[float] = []
    for _ in range(n):
        t0 = time.time()
        sink.play_now(earcon(sink.rate))
        await asyncio.sleep(_IDLE_S)
        out.extend(_onset(card, t0))
    return out


__all__ = ["has_output_device", "measure_speaker", "speaker_environment"]
