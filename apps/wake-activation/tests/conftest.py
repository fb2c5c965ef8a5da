"""Shared fixtures: one loaded wake detector per session and speech generated at test time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tars.stack.ephemeral import wait_online
from tars.testing import speech

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


@contextmanager
def worker_process(module: str, service: str, mqtt_url: str, namespace: str, log: Path,
                   **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m <module>`` with TARS_MQTT_URL / TARS_NAMESPACE (+ ``env``), stopped after."""
    full = {**os.environ, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
            "TARS_HEARTBEAT_S": "2", **{f"TARS_{k.upper()}": v for k, v in env.items()}}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", module], env=full, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        asyncio.run(wait_online(mqtt_url, [service], namespace, 120, {service: proc}))
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def start_worker() -> Callable[..., object]:
    """``start_worker(module, service, url, namespace, log, **env)``: a context manager."""
    return worker_process
