"""The official openai client, unchanged, against the real gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest

from tars.audio import write_wav

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker]


@pytest.fixture
def client(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.token, max_retries=0, timeout=60)


def test_transcription_and_speech_round_trip(client: openai.OpenAI, say: Any, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "q.wav", say("Please close the garage door."))
    with wav.open("rb") as fh:
        tr = client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert "garage door" in tr.text.lower()
    with wav.open("rb") as fh:
        verbose = client.audio.transcriptions.create(model="whisper-1", file=fh, response_format="verbose_json")
    assert verbose.duration and verbose.duration > 1.0
    spoken = client.audio.speech.create(model="tts-1", voice="alloy", input="The garage door is closed.",
                                        response_format="wav")
    out = tmp_path / "reply.wav"
    spoken.write_to_file(out)
    data = out.read_bytes()
    assert data[:4] == b"RIFF"
    # what tars said, transcribed by tars again
    import io
    import wave

    with wave.open(io.BytesIO(data[:40] + (len(data) - 44).to_bytes(4, "little") + data[44:])) as wf:
        rate = wf.getframerate()
        pcm = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2")
    again = write_wav(tmp_path / "again.wav", pcm, rate)
    with again.open("rb") as fh:
        assert "garage" in client.audio.transcriptions.create(model="whisper-1", file=fh).text.lower()


def test_chat_plain_and_streamed(client: openai.OpenAI) -> None:
    done = client.chat.completions.create(model="tars", messages=[{"role": "user", "content": "what's your name?"}])
    assert "TARS" in (done.choices[0].message.content or "")
    stream = client.chat.completions.create(model="tars", stream=True,
                                            messages=[{"role": "user", "content": "what is your name"}])
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert "TARS" in text
    assert any(m.id == "tars" for m in client.models.list())


def test_bad_token_is_an_authentication_error(gateway: Any) -> None:
    bad = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.models.list()
    assert info.value.status_code == 401
