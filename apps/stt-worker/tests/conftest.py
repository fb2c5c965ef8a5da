"""Shared fixtures: speech generated at test time and one loaded Whisper model per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt
import pytest

from tars.testing import speech
from tars.testing.fixtures import require_sound_card
from tars.testing.soundcard import VirtualSoundCard, virtual_sound_card
from tars.testing.workers import worker_process
from tars_stt import WhisperTranscriber

Speech = npt.NDArray[np.int16]

_cache: dict[tuple[str, str], Speech] = {}


def _say(voice: str, text: str) -> Speech:
    key = (voice, text)
    if key not in _cache:
        _cache[key] = speech.piper(text) if voice == "piper" else speech.espeak(text)
    return _cache[key]


@pytest.fixture(scope="session")
def say() -> Callable[[str, str], Speech]:
    """``say(voice, text)``: 16 kHz int16 speech from "piper" or "espeak", cached per session."""
    if not speech.espeak_available():
        pytest.fail("espeak-ng is needed to generate test speech")
    return _say


@pytest.fixture(scope="session")
def whisper() -> Iterator[WhisperTranscriber]:
    t = WhisperTranscriber()
    t.load()
    yield t



@pytest.fixture(scope="session")
def start_worker() -> Callable[..., object]:
    """``start_worker(module, service, url, namespace, log, **env)``: a context manager."""
    return worker_process


@pytest.fixture(scope="module")
def card() -> Iterator[VirtualSoundCard]:
    """One virtual sound card for a module's worker processes (``card.env``)."""
    require_sound_card()
    with virtual_sound_card() as c:
        yield c
