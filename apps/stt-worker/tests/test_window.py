"""Whisper's encoder window per utterance, and the loop check that sends a decode to 30 s."""

from __future__ import annotations

from tars_stt.transcriber import FULL_FRAMES, repetitive, said_once, window_frames

SR = 16_000


def test_a_short_utterance_gets_the_configured_window() -> None:
    assert window_frames(2 * SR, 10.0) == 1000
    assert window_frames(SR // 2, 8.0) == 800


def test_a_longer_utterance_gets_two_seconds_of_tail_and_an_even_width() -> None:
    assert window_frames(9 * SR, 10.0) == 1100
    assert window_frames(9 * SR + 160, 10.0) == 1102  # 901 + 200 frames, made even


def test_the_full_window_when_asked_or_when_the_speech_needs_it() -> None:
    assert window_frames(2 * SR, 0.0) == FULL_FRAMES
    assert window_frames(28 * SR, 10.0) == FULL_FRAMES
    assert window_frames(40 * SR, 10.0) == FULL_FRAMES


def test_a_looping_decode_is_repetitive_and_a_sentence_is_not() -> None:
    assert repetitive("the the the the the the the the the the the the the the")
    assert not repetitive("Tell me a long story about a dragon who learned to fly.")
    assert not repetitive("What time is it? And the date?")
    assert not repetitive("")


def test_a_decode_that_only_says_its_first_sentence_again_keeps_it_once() -> None:
    assert said_once("What time is it? " * 8) == "What time is it?"
    assert said_once("What is your name? What is your name?") == "What is your name?"
    assert said_once("What is the capital of France? What is") == "What is the capital of France?"
    assert said_once("Stop. Stop.") == "Stop."
    assert said_once("What time is it? And the date?") is None
    assert said_once("Stop.") is None
    assert said_once("what is your name what is your name") is None  # no sentence to keep
    assert said_once("") is None
