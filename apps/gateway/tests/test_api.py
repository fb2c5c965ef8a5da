"""The real gateway process in front of the real workers: every endpoint, the openai client."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tars.audio import SAMPLE_RATE
from tars.testing.speech import words

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker]


def test_healthz_lists_every_worker(gateway: Any) -> None:
    with gateway.client() as c:
        body = c.get("/healthz").json()
    assert body["status"] == "ok"
    for name in ("stt", "tts", "router", "gateway"):
        assert body["workers"][name]["state"] == "online", body


def test_transcription_json_text_and_verbose(gateway: Any, say: Callable[[str], Any], wav_bytes: Any) -> None:
    audio = say("Set a timer for ten minutes.")
    data = wav_bytes(audio)
    with gateway.client() as c:
        res = c.post("/v1/audio/transcriptions", files={"file": ("q.wav", data, "audio/wav")},
                     data={"model": "whisper-1"})
        assert res.status_code == 200, res.text
        heard = words(res.json()["text"])  # "ten" or "10": the same; one slip in six words is Whisper's
        assert sum(a != b for a, b in zip(heard, words("set a timer for ten minutes"), strict=False)) <= 1, heard
        assert len(heard) == 6 and heard[-3:] == ["for", "10", "minutes"], heard
        text = c.post("/v1/audio/transcriptions", files={"file": ("q.wav", data, "audio/wav")},
                      data={"model": "whisper-1", "response_format": "text"})
        assert text.headers["content-type"].startswith("text/plain")
        assert "timer" in text.text.lower()
        verbose = c.post("/v1/audio/transcriptions", files={"file": ("q.wav", data, "audio/wav")},
                         data={"model": "whisper-1", "response_format": "verbose_json"}).json()
    assert verbose["duration"] == pytest.approx(audio.size / SAMPLE_RATE, abs=0.01)
    seg = verbose["segments"][0]
    assert 0.0 <= seg["start"] < seg["end"] <= verbose["duration"] + 0.7
    assert not list(gateway.temp_dir.iterdir())


def test_speech_wav_and_pcm_stream(gateway: Any) -> None:
    with gateway.client() as c:
        res = c.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hello from the gateway.",
                                               "voice": "alloy", "response_format": "wav"})
        assert res.status_code == 200, res.text
        assert res.headers["content-type"] == "audio/wav"
        rate = int(res.headers["x-sample-rate"])
        body = res.content
        assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
        pcm = np.frombuffer(body[44:], dtype="<i2")
        assert pcm.size / rate > 0.8 and np.abs(pcm).max() > 1000
        raw = c.post("/v1/audio/speech", json={"input": "Hello again.", "response_format": "pcm"})
        assert raw.status_code == 200 and len(raw.content) > rate  # > 0.5 s of int16


def test_chat_completion_plain_and_streamed(gateway: Any) -> None:
    with gateway.client() as c:
        res = c.post("/v1/chat/completions", json={"model": "tars", "messages": [
            {"role": "user", "content": "what is your name"}]})
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["object"] == "chat.completion"
        assert "TARS" in body["choices"][0]["message"]["content"]
        assert body["tars"]["path"] == "intent"
        with c.stream("POST", "/v1/chat/completions", json={"model": "tars", "stream": True, "messages": [
                {"role": "system", "content": "be brief"}, {"role": "user", "content": "what is your name"}]}) as s:
            assert s.headers["content-type"].startswith("text/event-stream")
            lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    import orjson

    chunks = [orjson.loads(ln[6:]) for ln in lines[:-1]]
    text = "".join(ch["choices"][0]["delta"].get("content", "") for ch in chunks)
    assert "TARS" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert len({ch["id"] for ch in chunks}) == 1


def test_models(gateway: Any) -> None:
    with gateway.client() as c:
        ids = {m["id"] for m in c.get("/v1/models").json()["data"]}
    assert {"tars", "whisper-1", "tts-1"} <= ids


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_compressed_stereo_uploads_are_decoded_and_resampled(gateway: Any, say: Callable[[str], Any],
                                                            fmt: str) -> None:
    import soundfile as sf
    from scipy.signal import resample_poly

    mono = resample_poly(say("Play some music in the bedroom.").astype(np.float32) / 32768, 441, 160)
    stereo = np.stack([mono, mono * 0.8], axis=1)
    buf = io.BytesIO()
    sf.write(buf, stereo, 44_100, format=fmt)
    with gateway.client() as c:
        res = c.post("/v1/audio/transcriptions", files={"file": (f"q.{fmt.lower()}", buf.getvalue())},
                     data={"response_format": "verbose_json"})
    assert res.status_code == 200, res.text
    assert {"music", "bedroom"} <= set(words(res.json()["text"]))
    assert res.json()["duration"] == pytest.approx(mono.size / 44_100, abs=0.1)


def test_a_listener_that_goes_away_stops_the_speech(gateway: Any) -> None:
    import asyncio

    from tars.contracts import topics as T
    from tars.contracts.tts import TtsControl, TtsSay
    from tars.runtime import Inbound, Service
    from tars.runtime.connect import client_bus

    says: list[str] = []
    stops: list[str | None] = []

    async def run() -> None:
        spy = Service("spy", client_bus(gateway.mqtt_url, "spy", namespace=gateway.namespace),
                      announce=False)

        async def on_say(msg: Inbound[TtsSay]) -> None:
            says.append(msg.correlation_id)

        async def on_control(msg: Inbound[TtsControl]) -> None:
            if msg.payload.action == "stop":
                stops.append(msg.payload.target)

        spy.handle(T.TTS_SAY, on_say)
        spy.handle(T.TTS_CONTROL, on_control)
        await spy.start()
        try:
            await asyncio.to_thread(listen_briefly)
            for _ in range(100):
                if stops:
                    break
                await asyncio.sleep(0.1)
        finally:
            await spy.stop()

    def listen_briefly() -> None:
        long_text = " ".join(["This sentence is here to make the reply long enough."] * 8)
        with gateway.client() as c, c.stream("POST", "/v1/audio/speech",
                                             json={"input": long_text, "response_format": "pcm"}) as s:
            assert s.status_code == 200
            next(s.iter_bytes())  # the first audio, then hang up

    asyncio.run(run())
    assert says and stops == [says[-1]]
