"""The tts worker as a real subprocess on a real broker, with the piper voice; replies heard back by Whisper."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tars.audio import NoAudioDeviceError, describe_devices
from tars.contracts import topics as T
from tars.contracts.errors import ErrorEvent
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.runtime import Inbound, Service
from tars.runtime.connect import client_bus
from tars.testing.logged import LoggedProcess, running
from tars.testing.speech import overlap, words

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]


@dataclass
class Worker:
    process: LoggedProcess
    wav_dir: Path
    namespace: str


@pytest.fixture(scope="module")
def worker(mqtt_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """One worker for the module: speaker sink (no device here -> WAV), paced like a speaker."""
    tmp = tmp_path_factory.mktemp("tts-worker")
    config = tmp / "tars.toml"
    config.write_text(f'[tts]\nsink = "speaker"\nwav_pace = 1.0\ndata_dir = {json.dumps(str(tmp))}\n')
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    env = {"TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
           "TARS_CONFIG": str(config), "TARS_SITE_ID": "lab"}
    with running("tars_tts", env, no_traceback=False) as process:
        yield Worker(process, tmp / "tts", namespace)


class Client:
    def __init__(self, url: str, namespace: str) -> None:
        self.service = Service("client", client_bus(url, "client", namespace=namespace))
        self.statuses: dict[str, list[TtsStatus]] = defaultdict(list)
        self.errors: list[ErrorEvent] = []
        self.changed = asyncio.Event()
        self.service.handle(T.TTS_STATUS, self._on_status)
        self.service.handle(T.SYSTEM_ERROR, self._on_error)

    async def _on_status(self, msg: Inbound[TtsStatus]) -> None:
        self.statuses[msg.correlation_id].append(msg.payload)
        self.changed.set()

    async def _on_error(self, msg: Inbound[ErrorEvent]) -> None:
        self.errors.append(msg.payload)
        self.changed.set()

    async def say(self, text: str, **kw: object) -> str:
        cid = uuid.uuid4().hex
        await self.service.publish(T.TTS_SAY, TtsSay(text=text, **kw), correlation_id=cid,  # type: ignore[arg-type]
                                   site_id="lab")
        return cid

    async def status(self, cid: str, event: str, timeout: float = 60) -> TtsStatus:
        async with asyncio.timeout(timeout):
            while True:
                hits = [s for s in self.statuses[cid] if s.event == event]
                if hits:
                    return hits[0]
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def client(worker: Worker, mqtt_url: str) -> AsyncIterator[Client]:
    c = Client(mqtt_url, worker.namespace)
    await c.service.start()
    yield c
    await c.service.stop()


async def test_a_reply_is_written_to_wav_and_transcribes_back(
        client: Client, transcribe: Callable[[Path], str]) -> None:
    text = "The kitchen lights are off, and the garage door is closed."  # tiny.en hears it whole
    cid = await client.say(text)
    started = await client.status(cid, "started")
    ended = await client.status(cid, "ended")
    assert ended.reason == "done" and ended.path is not None and started.first_sample_ts is not None
    heard = await asyncio.to_thread(transcribe, Path(ended.path))
    assert overlap(text, heard) >= 0.8, heard


async def test_streamed_parts_arrive_in_order_in_one_wav(
        client: Client, worker: Worker, transcribe: Callable[[Path], str]) -> None:
    parts = ["First, take the red bus.", "Then walk to the park.", "Finally, call your sister."]
    cid = uuid.uuid4().hex
    for i, part in enumerate([*parts, ""]):
        await client.service.publish(
            T.TTS_SAY, TtsSay(text=part, stream=True, final=i == len(parts), index=i),
            correlation_id=cid, site_id="lab")
    ended = await client.status(cid, "ended")
    assert ended.reason == "done" and ended.path is not None
    spoken = [s.text for s in client.statuses[cid] if s.event == "sentence_done"]
    assert spoken == parts
    assert len(list(worker.wav_dir.glob(f"*{cid}*.wav"))) == 1
    heard = words(await asyncio.to_thread(transcribe, Path(ended.path)))
    order = [heard.index(w) for w in ("red", "park", "sister") if w in heard]
    assert len(order) == 3 and order == sorted(order), heard


async def test_stop_during_a_long_paced_reply(client: Client) -> None:
    long_reply = " ".join(f"This is sentence number {n} of a very long answer." for n in range(15))
    cid = await client.say(long_reply)
    await client.status(cid, "started")
    await asyncio.sleep(1.0)
    t0 = time.monotonic()
    await client.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=cid))
    ended = await client.status(cid, "ended", timeout=5)
    took = time.monotonic() - t0
    print(f"stop -> ended status: {took * 1000:.0f} ms")
    assert ended.reason == "stopped" and ended.path is not None, ended
    assert took < 0.3, f"stop took {took:.3f} s"  # round trip over the broker; measured ~15 ms
    assert 0.5 < ended.audio_s < 6.0
    wav = Path(ended.path)
    size = await asyncio.to_thread(lambda: wav.stat().st_size)
    await asyncio.sleep(0.5)
    assert await asyncio.to_thread(lambda: wav.stat().st_size) == size  # nothing more written
    assert abs((size - 44) / 2 / 22_050 - ended.audio_s) < 0.05


async def test_bad_input_reports_errors_and_the_worker_keeps_speaking(client: Client) -> None:
    cases = [("", None, "nothing to speak"), ("hello " * 10_000, None, "too long"),
             ("Hello.", "de_DE-nobody-low", "unknown voice")]
    for text, voice, needle in cases:
        cid = await client.say(text, voice=voice)
        ended = await client.status(cid, "ended", timeout=10)
        assert ended.reason is not None and ended.reason.startswith("error: ") and needle in ended.reason
    async with asyncio.timeout(5):
        while len(client.errors) < len(cases):
            client.changed.clear()
            await client.changed.wait()
    assert all(e.service == "tts" and e.kind == "validation" for e in client.errors)
    cid = await client.say("I am still here.")
    assert (await client.status(cid, "ended")).reason == "done"


async def test_no_speaker_means_one_clear_line_and_wav_files(worker: Worker) -> None:
    try:
        has_output = any(int(d.get("max_output_channels", 0)) > 0 for d in describe_devices())
    except NoAudioDeviceError:
        has_output = False
    if has_output:
        pytest.skip("this machine has an audio output device")
    lines = [line for line in worker.process.log if "no audio output device" in line]
    assert len(lines) == 1 and "writing replies to WAV files in" in lines[0]
    assert not any("Traceback" in line for line in worker.process.log)


def test_tars_speak_end_to_end(mqtt_url: str, tmp_path: Path, transcribe: Callable[[Path], str]) -> None:
    """`tars speak` in a namespace with no tts worker: it starts one, records the reply, stops it."""
    config = tmp_path / "tars.toml"
    config.write_text(f'[tts]\nsink = "wav"\ndata_dir = {json.dumps(str(tmp_path))}\n')
    env = {**os.environ, "TARS_NAMESPACE": f"t{uuid.uuid4().hex[:10]}/", "TARS_CONFIG": str(config)}
    env.pop("TARS_MQTT_URL", None)
    out = tmp_path / "x.wav"
    text = "Your timer for ten minutes has started."
    tars = Path(sys.executable).with_name("tars")
    run = subprocess.run([str(tars), "speak", text, "--json", "--out", str(out), "--url", mqtt_url],
                         env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["path"] == str(out) and result["audio_s"] > 1.0
    assert 0 < result["first_audio_ms"] < 10_000
    heard = transcribe(out)
    assert overlap(text, heard) >= 0.8, heard
