"""The real stt worker process on the real broker: WER, bad frames, `tars transcribe`."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from tars.audio import SAMPLE_RATE, write_wav
from tars.clients.stt import FinalCollector, stream_audio
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.errors import ErrorEvent
from tars.runtime import Service
from tars.runtime.connect import client_bus
from tars.testing.bus_contract import Collector
from tars_stt.metrics import word_error_rate

pytestmark = [pytest.mark.models, pytest.mark.e2e]
Speech = np.ndarray  # type: ignore[type-arg]

SENTENCES = [
    ("piper", "Turn on the lights in the kitchen."),
    ("piper", "What is the weather like tomorrow morning?"),
    ("piper", "Set a timer for ten minutes."),
    ("piper", "Remind me to call my mother at six."),
    ("piper", "Add milk and bread to the shopping list."),
    ("piper", "How far is the moon from the earth?"),
    ("espeak", "Please close the garage door."),
    ("espeak", "Play some music in the living room."),
    ("espeak", "What time is it in London?"),
    ("espeak", "Open the window in the bedroom."),
    ("espeak", "Tell me a story about a dragon."),
    ("piper", "The train to Boston leaves at noon."),
]


@pytest.fixture(scope="session")
def stt_ns() -> str:
    return f"s{uuid.uuid4().hex[:10]}/"


@pytest.fixture(scope="session")
def stt_worker(mqtt_url: str, stt_ns: str, tmp_path_factory: pytest.TempPathFactory,
               start_worker: Callable[..., Any]) -> Iterator[Path]:
    log = tmp_path_factory.mktemp("stt") / "stt.log"
    with start_worker("tars_stt", "stt", mqtt_url, stt_ns, log, audio_source="mic"):
        yield log


@pytest.fixture
async def client(mqtt_url: str, stt_ns: str, stt_worker: Path) -> AsyncIterator[Service]:
    svc = Service("test", client_bus(mqtt_url, "test", namespace=stt_ns),
                  heartbeat_s=3600)
    yield svc
    await svc.stop()


def test_no_device_is_one_clear_line_and_mqtt_audio_still_works(stt_worker: Path) -> None:
    text = stt_worker.read_text()
    assert text.count("no audio input device: listening to MQTT audio only") == 1
    assert "Traceback" not in text


async def test_generated_sentences_are_transcribed_with_low_wer(
    client: Service, say: Callable[[str, str], Speech]
) -> None:
    finals = FinalCollector()
    client.handle(T.STT_FINAL, finals)
    await client.start()
    site_texts = {}
    for i, (voice, text) in enumerate(SENTENCES):
        site = f"wer{i}"
        site_texts[site] = text
        lead = np.zeros(SAMPLE_RATE // 2, dtype=np.int16)
        await stream_audio(client, site, np.concatenate([lead, say(voice, text)]), speed=4.0)
    heard = await finals.wait(len(SENTENCES), timeout_s=120)
    assert len({h.correlation_id for h in heard}) == len(SENTENCES)
    assert sorted(h.site for h in heard) == sorted(site_texts)
    pairs = [(site_texts[h.site], h.final.text) for h in heard]
    assert word_error_rate(pairs) <= 0.15, pairs
    assert all(h.final.transcribe_ms > 0 and h.final.audio_s > 1.0 for h in heard)


async def test_bad_frames_are_reported_and_transcription_goes_on(
    client: Service, say: Callable[[str, str], Speech]
) -> None:
    finals = FinalCollector("after-bad")
    client.handle(T.STT_FINAL, finals)
    await client.start()
    errors = Collector()
    await client.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    await client.publish(T.AUDIO_MIC, AudioFrame(sample_rate=48000), pcm=b"\x00\x01" * 480,
                         params={"site": "after-bad"})
    await client.bus.publish(T.AUDIO_MIC.topic(site="after-bad"), b"TPCM\x00\x00\x00\xffjunk")
    await client.bus.publish(T.AUDIO_MIC.topic(site="after-bad"), os.urandom(300))
    got = await errors.wait_for(3, timeout=10)
    events = [decode(m.payload).payload(ErrorEvent) for m in got]
    assert all(e.service == "stt" for e in events)
    assert any(e.kind == "validation" and "48000 Hz" in e.reason for e in events)
    assert sum(e.kind == "decode" for e in events) >= 2
    await stream_audio(client, "after-bad", say("piper", "Turn off the radio."), speed=4.0)
    heard = await finals.wait(1, timeout_s=60)
    assert word_error_rate([("Turn off the radio.", heard[0].final.text)]) <= 0.25


def _tars(*args: str, mqtt_url: str, ns: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": ns}
    return subprocess.run([sys.executable, "-c", "from tars.cli.app import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=180)


def test_transcribe_an_empty_file_is_one_clear_error(tmp_path: Path, mqtt_url: str, stt_ns: str) -> None:
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, dtype=np.int16))
    for path in (empty, tmp_path / "missing.wav"):
        res = _tars("transcribe", str(path), mqtt_url=mqtt_url, ns=stt_ns)
        assert res.returncode == 2
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("tars: cannot transcribe"), res.stderr
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF1234WAVEfmt nonsense")
    res = _tars("transcribe", str(corrupt), mqtt_url=mqtt_url, ns=stt_ns)
    assert res.returncode == 2 and "not a readable WAV" in res.stderr


def test_transcribe_json_end_to_end(
    tmp_path: Path, mqtt_url: str, stt_ns: str, stt_worker: Path,
    say: Callable[[str, str], Speech],
) -> None:
    from tars.testing.speech import with_silence

    audio = with_silence(say("piper", "Set an alarm for seven in the morning."), before_s=0.5)
    wav = write_wav(tmp_path / "alarm.wav", audio)
    res = _tars("transcribe", str(wav), "--json", mqtt_url=mqtt_url, ns=stt_ns)
    assert res.returncode == 0, res.stderr
    out = orjson.loads(res.stdout)
    assert word_error_rate([("Set an alarm for seven in the morning.", out["text"])]) <= 0.2
    assert 0 < out["confidence"] <= 1
    assert abs(out["audio_s"] - audio.size / SAMPLE_RATE) < 0.05
    assert 0 < out["latency_ms"] < 10_000
    assert "segments" not in out
