"""Transcribe while deciding: pause events, transcript completeness, the endpoint on meaning."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tars_stt.completeness import ending, is_complete
from tars_stt.endpointer import (
    Endpointer,
    EndpointerSettings,
    PauseStarted,
    SpeechResumed,
    UtteranceEnded,
)

SR = 16_000
Speech = np.ndarray  # type: ignore[type-arg]


@pytest.mark.parametrize(("text", "complete"), [
    ("What time is it?", True),
    ("Turn on the lights please.", True),
    ("Stop!", True),
    ("Set a timer for.", False),
    ("Remind me to", False),
    ("What is the weather in...", False),
    ("", False),
    ("Turn on the.", False),
])
def test_completeness_of_a_transcript(text: str, complete: bool) -> None:
    assert is_complete(text) is complete


@pytest.mark.parametrize(("text", "grade"), [
    ("What time is it?", "complete"),
    ("name a big animal that lives in the ocean", "plausible"),  # unpunctuated
    ("what time is it", "plausible"),
    ("set a timer for", "unfinished"),
    ("Set a timer for.", "unfinished"),
    ("remind me to", "unfinished"),
    ("What is the weather in...", "unfinished"),
    ("Well,", "unfinished"),
    ("hello", "unfinished"),  # one word: maybe only the start
    ("", "unfinished"),
])
def test_how_a_transcript_ends(text: str, grade: str) -> None:
    assert ending(text) == grade


def test_a_pause_inside_speech_is_announced_then_resumed_then_ended(
    say: Callable[[str, str], Speech],
) -> None:
    gap = np.zeros(int(0.4 * SR), dtype=np.int16)
    first, second = say("piper", "Set a timer for"), say("piper", "ten minutes.")
    audio = np.concatenate([np.zeros(SR // 2, dtype=np.int16), first, gap, second,
                            np.zeros(SR, dtype=np.int16)])
    ep = Endpointer(EndpointerSettings(pause_s=0.12, end_silence_s=0.6, partial_interval_s=0))
    events = [e for off in range(0, audio.size, 480) for e in ep.feed(audio[off:off + 480])]
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("UtteranceEnded") == 1 and kinds[-1] == "UtteranceEnded"
    pauses = [e for e in events if isinstance(e, PauseStarted)]
    assert any(isinstance(e, SpeechResumed) for e in events) and len(pauses) >= 2
    ended = events[-1]
    assert isinstance(ended, UtteranceEnded)
    # the last pause is the end: same end time, and its audio is the utterance up to there
    assert abs(pauses[-1].end_s - ended.end_s) < 1e-6
    assert pauses[-1].samples.size <= ended.samples.size
    assert pauses[0].samples.size / SR < first.size / SR + 0.6


def test_end_now_decides_the_endpoint_early(say: Callable[[str, str], Speech]) -> None:
    audio = np.concatenate([np.zeros(SR // 2, dtype=np.int16), say("piper", "What time is it?"),
                            np.zeros(int(0.3 * SR), dtype=np.int16)])
    ep = Endpointer(EndpointerSettings(pause_s=0.12, end_silence_s=1.2, partial_interval_s=0))
    events = [e for off in range(0, audio.size, 480) for e in ep.feed(audio[off:off + 480])]
    assert not any(isinstance(e, UtteranceEnded) for e in events)
    assert ep.in_speech and 0.25 <= ep.silence_s <= 0.6  # piper ends with a little silence
    ended = ep.end_now()
    assert ended is not None and not ep.in_speech and ep.end_now() is None
    pause = [e for e in events if isinstance(e, PauseStarted)][-1]
    assert abs(pause.end_s - ended.end_s) < 1e-6
