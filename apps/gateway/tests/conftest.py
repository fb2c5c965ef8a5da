"""Fixtures: a real broker, the real stt / tts / router workers and the real gateway process."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from tars.runtime.broker import free_port
from tars.testing import speech
from tars.testing.workers import worker_process

Speech = npt.NDArray[np.int16]
_cache: dict[str, Speech] = {}


@dataclass(frozen=True)
class RunningGateway:
    url: str
    token: str
    namespace: str
    mqtt_url: str
    log: Path
    temp_dir: Path
    proc: subprocess.Popen[bytes]

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"},
                            timeout=60, **kw)


@pytest.fixture(scope="session")
def say() -> Callable[[str], Speech]:
    """``say(text)``: 16 kHz int16 speech from piper, generated at test time (cached)."""
    def _say(text: str) -> Speech:
        if text not in _cache:
            _cache[text] = speech.piper(text)
        return _cache[text]
    return _say


def _wav_bytes(samples: Speech, rate: int = 16_000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


@pytest.fixture(scope="session")
def wav_bytes() -> Callable[..., bytes]:
    """``wav_bytes(samples, rate=16000)``: a WAV file's bytes."""
    return _wav_bytes


@pytest.fixture(scope="session")
def gw_ns() -> str:
    return f"g{uuid.uuid4().hex[:10]}/"


@pytest.fixture(scope="session")
def workers(mqtt_url: str, gw_ns: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """stt, tts and router workers (no LLM: chat answers come from the router's intents)."""
    logs = tmp_path_factory.mktemp("workers")
    data = tmp_path_factory.mktemp("data")
    with worker_process("tars_stt", "stt", mqtt_url, gw_ns, logs / "stt.log", audio_source="mqtt"), \
            worker_process("tars_tts", "tts", mqtt_url, gw_ns, logs / "tts.log", sink="wav",
                           data_dir=str(data)), \
            worker_process("tars_router", "router", mqtt_url, gw_ns, logs / "router.log",
                           tts_start_timeout_s="3"):
        yield logs


def start_gateway(mqtt_url: str, namespace: str, log: Path, temp_dir: Path, **env: str) -> RunningGateway:
    port = free_port()
    token = uuid.uuid4().hex
    full = {**os.environ, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace, "TARS_PORT": str(port),
            "TARS_API_TOKEN": token, "TARS_TEMP_DIR": str(temp_dir), "TARS_HEARTBEAT_S": "2",
            **{f"TARS_{k.upper()}": v for k, v in env.items()}}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tars_gateway"], env=full, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the gateway exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return RunningGateway(url, token, namespace, mqtt_url, log, temp_dir, proc)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"the gateway did not answer within 60 s: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def launch_gateway(mqtt_url: str, tmp_path: Path) -> Iterator[Callable[..., RunningGateway]]:
    """``launch_gateway(namespace, url=None, **env)``: another gateway process (on the session
    broker unless ``url`` names another), stopped after the test."""
    started: list[RunningGateway] = []

    def launch(namespace: str, url: str | None = None, **env: str) -> RunningGateway:
        gw = start_gateway(url or mqtt_url, namespace, tmp_path / f"gateway{len(started)}.log", tmp_path, **env)
        started.append(gw)
        return gw

    yield launch
    for gw in started:
        stop(gw.proc)


@pytest.fixture(scope="session")
def gateway(mqtt_url: str, gw_ns: str, workers: Path,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    temp = tmp_path_factory.mktemp("uploads")
    gw = start_gateway(mqtt_url, gw_ns, workers / "gateway.log", temp, max_upload_mb="2", settle_s="1.5")
    try:
        yield gw
    finally:
        stop(gw.proc)
