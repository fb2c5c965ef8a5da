"""Audio sources: WAV files, pushed PCM frames, fan-out, microphone on a headless machine."""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tars.audio import AudioSource, describe_devices
from tars_stt import (
    AudioFanout,
    AudioFormatError,
    MicrophoneSource,
    NoAudioDeviceError,
    QueueSource,
    SourceClosedError,
    WavFileSource,
)

SR = 16_000


def _tone(rate: int, seconds: float, channels: int = 1) -> np.ndarray:  # type: ignore[type-arg]
    t = np.arange(int(rate * seconds)) / rate
    mono = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


def _write(path: Path, data: np.ndarray, rate: int, channels: int = 1) -> Path:  # type: ignore[type-arg]
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(channels)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(data.astype("<i2").tobytes())
    return path


async def _collect(source: AudioSource) -> np.ndarray:  # type: ignore[type-arg]
    return np.concatenate([f async for f in source.frames()])


async def test_wav_source_resamples_any_rate_and_channels(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.wav", _tone(44_100, 1.0, channels=2), 44_100, channels=2)
    src = WavFileSource(path, chunk_ms=20)
    sizes = [f.size async for f in src.frames()]
    assert set(sizes[:-1]) == {320}
    assert sum(sizes) == pytest.approx(SR, abs=2)
    audio = await _collect(WavFileSource(path))
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64)))
    assert np.argmax(spectrum) * SR / audio.size == pytest.approx(440, abs=3)


async def test_wav_source_realtime_pacing(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.wav", _tone(SR, 0.5), SR)
    started = time.monotonic()
    audio = await _collect(WavFileSource(path, realtime=True))
    elapsed = time.monotonic() - started
    assert audio.size == SR // 2
    assert 0.4 <= elapsed < 2.0  # paced: the last chunk is due at ~0.48 s


async def test_wav_source_errors_are_clear(tmp_path: Path) -> None:
    empty = _write(tmp_path / "empty.wav", np.zeros(0, dtype=np.int16), SR)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage" * 10)
    for path, words in [
        (tmp_path / "missing.wav", "no such file"),
        (empty, "no audio"),
        (corrupt, "not a readable WAV"),
    ]:
        with pytest.raises(AudioFormatError, match=words):
            await _collect(WavFileSource(path))


async def test_queue_source_yields_pushed_frames_then_ends() -> None:
    q = QueueSource()
    a = _tone(SR, 0.1)
    q.push(a.astype("<i2").tobytes(), sample_rate=SR)
    q.push(a)
    q.end()
    out = await _collect(q)
    assert np.array_equal(out, np.concatenate([a, a]))
    with pytest.raises(SourceClosedError):
        q.push(a)


@pytest.mark.parametrize(
    ("payload", "kwargs", "words"),
    [
        (b"\x01\x02\x03", {}, "whole sample"),
        (b"", {}, "empty"),
        (b"\x00\x00" * 160, {"sample_rate": 44_100}, "44100 Hz, expected 16000"),
        (b"\x00\x00" * 160, {"channels": 2}, "mono"),
        (b"\x00\x00" * 160, {"sample_format": "f32le"}, "unsupported sample format"),
        (np.zeros(160, dtype=np.float32), {}, "int16"),
        (np.zeros((160, 2), dtype=np.int16), {}, "1-D"),
        ("not audio", {}, "bytes or an int16 array"),
        (b"\x00\x00" * 40_000, {}, "longer than 2 s"),
    ],
)
def test_queue_source_rejects_garbage(payload: object, kwargs: dict[str, object], words: str) -> None:
    q = QueueSource()
    with pytest.raises(AudioFormatError, match=words):
        q.push(payload, **kwargs)  # type: ignore[arg-type]


async def test_queue_source_drops_oldest_when_reader_lags() -> None:
    q = QueueSource(max_frames=3)
    for i in range(5):
        q.push(np.full(160, i, dtype=np.int16))
    assert q.dropped == 2
    await q.close()
    firsts = [int(f[0]) async for f in q.frames()]
    assert firsts == [3, 4]  # the end marker pushed out one more frame


async def test_fanout_feeds_every_subscriber(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.wav", _tone(SR, 0.3), SR)
    fan = AudioFanout(WavFileSource(path))
    stt, wake = fan.subscribe(), fan.subscribe()
    _, a, b = await asyncio.gather(fan.run(), _collect(stt), _collect(wake))
    assert a.size == b.size == int(0.3 * SR)
    assert np.array_equal(a, b)


def test_microphone_without_device_raises_one_clear_error() -> None:
    try:
        has_input = any(d["max_input_channels"] > 0 for d in describe_devices())
    except NoAudioDeviceError:
        has_input = False
    if has_input:
        with pytest.raises(NoAudioDeviceError, match="no audio input device named"):
            MicrophoneSource("no-such-device-xyz")
        return
    with pytest.raises(NoAudioDeviceError) as info:
        MicrophoneSource()
    assert "\n" not in str(info.value) and "audio" in str(info.value)
