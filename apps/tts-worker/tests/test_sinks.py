"""Sinks: WAV files per reply, the speaker's missing-device error, the callback sink, pacing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tars.audio import NoAudioDeviceError, read_wav
from tars_tts import (
    CallbackSink,
    Pacer,
    SayRequest,
    SpeakerSink,
    SpeechQueue,
    WavFileSink,
)
from tars_tts.testing import ToneSynthesizer


async def test_wav_sink_writes_one_file_per_reply_named_by_correlation_id(tmp_path: Path) -> None:
    sink = WavFileSink(tmp_path / "out")
    async with SpeechQueue(ToneSynthesizer(), sink) as q:
        await q.say(SayRequest("One.", "req/1 ../x"))
        await q.say(SayRequest("Two two.", "req-2"))
        await q.wait_idle()
    names = [p.name for p in sink.paths]
    assert names == ["0001-req_1_.._x.wav", "0002-req-2.wav"]
    assert all(p.parent == tmp_path / "out" for p in sink.paths)
    assert read_wav(sink.paths[1]).size == len("Two two.") * 160


def test_speaker_sink_without_a_device_says_so_in_one_line() -> None:
    with pytest.raises(NoAudioDeviceError) as info:
        SpeakerSink(device="no-such-output-device-xyz")
    assert "\n" not in str(info.value) and "audio output device" in str(info.value)


async def test_callback_sink_gets_blocks_and_reply_edges() -> None:
    log: list[tuple[str, str, int]] = []

    async def on_audio(reply_id: str, samples: npt.NDArray[np.int16], rate: int) -> None:
        log.append(("audio", reply_id, samples.size))

    async def on_begin(reply_id: str, rate: int) -> None:
        log.append(("begin", reply_id, rate))

    async def on_end(reply_id: str, aborted: bool) -> None:
        log.append(("end", reply_id, int(aborted)))

    sink = CallbackSink(on_audio, on_begin=on_begin, on_end=on_end, lead_s=0.0)
    async with SpeechQueue(ToneSynthesizer(ms_per_char=20), sink) as q:
        await q.say(SayRequest("Short.", "a"))
        await q.wait_idle()
        await q.say(SayRequest("A much longer reply to cut off.", "b"))
        await asyncio.sleep(0.2)
        await q.stop("b")
    assert log[0] == ("begin", "a", 16_000) and log[-1] == ("end", "b", 1)
    assert ("end", "a", 0) in log
    a_samples = sum(n for kind, rid, n in log if kind == "audio" and rid == "a")
    assert a_samples == len("Short.") * 320
    assert all(n <= 640 for kind, _, n in log if kind == "audio")  # 40 ms blocks


async def test_pacer_holds_real_time_without_bursting_after_a_pause() -> None:
    pacer = Pacer(pace=1.0)
    pacer.reset()
    t0 = time.monotonic()
    for _ in range(5):
        await pacer.wait(1600, 16_000)  # 100 ms each
    assert 0.35 < time.monotonic() - t0 < 0.6  # the 5th block waits for the 4 before it
    await asyncio.sleep(0.5)  # a pause: the writer falls behind
    t1 = time.monotonic()
    await pacer.wait(1600, 16_000)
    await pacer.wait(1600, 16_000)
    assert time.monotonic() - t1 > 0.08  # no burst to catch up
    unpaced = Pacer(pace=0.0)
    t2 = time.monotonic()
    for _ in range(100):
        await unpaced.wait(16_000, 16_000)
    assert time.monotonic() - t2 < 0.05
