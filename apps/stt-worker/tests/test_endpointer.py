"""Endpointing on generated speech (WebRTC VAD, no Whisper)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from tars_stt import (
    AudioFormatError,
    Endpointer,
    EndpointerSettings,
    EndpointEvent,
    PartialReady,
    SpeechStarted,
    UtteranceEnded,
)

SR = 16_000
Speech = np.ndarray  # type: ignore[type-arg]


def silence(seconds: float) -> Speech:
    return np.zeros(int(seconds * SR), dtype=np.int16)


def noise(seconds: float, level: int = 60, seed: int = 0) -> Speech:
    return np.random.default_rng(seed).normal(0, level, int(seconds * SR)).astype(np.int16)


def _feed_in_chunks(ep: Endpointer, audio: Speech, sizes: list[int]) -> list[EndpointEvent]:
    events: list[EndpointEvent] = []
    off, i = 0, 0
    while off < audio.size:
        n = sizes[i % len(sizes)]
        events += ep.feed(audio[off : off + n])
        off, i = off + n, i + 1
    return events + ep.flush()


def _voiced_bounds(audio: Speech) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 500)
    return loud[0] / SR, loud[-1] / SR


def test_two_utterances_found_with_audio_clock_times(say: Callable[[str, str], Speech]) -> None:
    a = say("espeak", "Turn on the kitchen lights.")
    b = say("espeak", "What is the weather tomorrow?")
    audio = np.concatenate([silence(1.0), a, silence(1.5), b, silence(1.0)])
    a0, a1 = _voiced_bounds(a)
    b0, b1 = _voiced_bounds(b)
    b_off = 1.0 + a.size / SR + 1.5
    events = _feed_in_chunks(Endpointer(origin_s=100.0), audio, [480])
    started = [e for e in events if isinstance(e, SpeechStarted)]
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(started) == 2 and len(ended) == 2
    assert ended[0].start_s == pytest.approx(100.0 + 1.0 + a0, abs=0.1)
    assert ended[0].end_s == pytest.approx(100.0 + 1.0 + a1, abs=0.15)
    assert ended[1].start_s == pytest.approx(100.0 + b_off + b0, abs=0.1)
    assert ended[1].end_s == pytest.approx(100.0 + b_off + b1, abs=0.15)
    assert started[0].start_s == ended[0].start_s
    for e in ended:  # samples begin with the pre-roll and reach past the end of speech
        assert e.audio_start_s == pytest.approx(e.start_s - 0.3, abs=0.04)
        assert e.samples.size / SR >= e.end_s - e.audio_start_s
        assert not e.truncated


def test_frame_size_does_not_change_the_result(say: Callable[[str, str], Speech]) -> None:
    audio = np.concatenate([silence(0.5), say("espeak", "Set a timer for ten minutes."), silence(1)])
    ref = _feed_in_chunks(Endpointer(), audio, [480])
    for sizes in ([1], [7, 1000, 333], [16_000], [audio.size]):
        got = _feed_in_chunks(Endpointer(), audio, sizes)
        assert [type(e) for e in got] == [type(e) for e in ref]
        ends = [e for e in got if isinstance(e, UtteranceEnded)]
        ref_ends = [e for e in ref if isinstance(e, UtteranceEnded)]
        assert [(e.start_s, e.end_s) for e in ends] == [(e.start_s, e.end_s) for e in ref_ends]
        assert np.array_equal(ends[0].samples, ref_ends[0].samples)


def test_silence_noise_and_clicks_give_no_utterance() -> None:
    click = np.zeros(SR, dtype=np.int16)
    click[8000:8160] = 20_000  # 10 ms click
    audio = np.concatenate([silence(1), noise(2), click, silence(1)])
    assert _feed_in_chunks(Endpointer(EndpointerSettings(vad_aggressiveness=3)), audio, [320]) == []


def test_partials_during_long_speech_and_truncation(say: Callable[[str, str], Speech]) -> None:
    long = say("espeak", "This is a rather long request that keeps going on and on about the "
                         "weather in several cities and the trains between them tomorrow morning.")
    audio = np.concatenate([silence(0.5), long, silence(1)])
    settings = EndpointerSettings(partial_interval_s=1.0, max_utterance_s=60)
    events = _feed_in_chunks(Endpointer(settings), audio, [480])
    partials = [e for e in events if isinstance(e, PartialReady)]
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) >= 1
    assert len(partials) >= int(long.size / SR) - 2  # about one a second
    assert all(p.at_s > p.start_s for p in partials)
    assert all(b.samples.size > a.samples.size for a, b in itertools.pairwise(partials))
    cut = _feed_in_chunks(Endpointer(EndpointerSettings(max_utterance_s=2.0)), audio, [480])
    cut_ends = [e for e in cut if isinstance(e, UtteranceEnded)]
    assert cut_ends[0].truncated
    assert cut_ends[0].samples.size / SR <= 2.0 + 1e-6


def test_flush_closes_speech_in_progress_and_skip_moves_the_clock(
    say: Callable[[str, str], Speech],
) -> None:
    ep = Endpointer()
    speech = say("espeak", "Hello there.")
    events = ep.feed(np.concatenate([silence(0.5), speech]))
    assert any(isinstance(e, SpeechStarted) for e in events)
    (end,) = ep.flush()
    assert isinstance(end, UtteranceEnded)
    ep.skip(SR * 3)
    assert ep.clock_s == pytest.approx(0.5 + speech.size / SR + 3.0, abs=1e-6)
    assert not ep.in_speech


@pytest.mark.parametrize(
    "bad", [np.zeros(10, dtype=np.float32), np.zeros((10, 2), dtype=np.int16)]
)
def test_bad_frames_raise_audio_format_error(bad: np.ndarray) -> None:  # type: ignore[type-arg]
    with pytest.raises(AudioFormatError):
        Endpointer().feed(bad)
