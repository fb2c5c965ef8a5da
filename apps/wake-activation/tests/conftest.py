"""Shared fixtures: one loaded wake detector per session and speech generated at test time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from tars.testing import speech
from tars.testing.workers import worker_process

Speech = npt.NDArray[np.int16]
_cache: dict[tuple[str, str], Speech] = {}


def _say(voice: str, text: str) -> Speech:
    key = (voice, text)
    if key not in _cache:
        audio = speech.piper(text) if voice == "piper" else speech.espeak(text)
        _cache[key] = speech.with_silence(audio, before_s=0.5, after_s=1.0)
    return _cache[key]


@pytest.fixture(scope="session")
def say() -> Callable[[str, str], Speech]:
    """``say(voice, text)``: speech with silence around it, from "piper" or "espeak"."""
    if not speech.espeak_available():
        pytest.fail("espeak-ng is needed to generate test speech")
    return _say


@pytest.fixture(scope="session")
def start_worker() -> Callable[..., object]:
    """``start_worker(module, service, url, namespace, log, **env)``: a context manager."""
    return worker_process
