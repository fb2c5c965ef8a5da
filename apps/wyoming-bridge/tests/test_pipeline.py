"""A Wyoming satellite's whole turn through tars: audio in, transcript, reply text and audio out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from wyoming.asr import Transcript
from wyoming.pipeline import PipelineStage, RunPipeline
from wyoming.tts import Synthesize

from tars.runtime.broker import free_port
from tars.testing import speech
from tars.testing.workers import worker_process
from tars_wyoming.testing import Bridge, client, overlap, pcm_of, read_until, stream, transcribe

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]


@pytest.fixture(scope="module")
def turn_stack(mqtt_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """stt, tts, wake, router and the bridge (no LLM: the question is a local intent)."""
    logs = tmp_path_factory.mktemp("wyoming-turn")
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    ports = {"asr": free_port(), "pipeline": free_port()}
    with ExitStack() as stack:
        for module, name, env in (("tars_stt", "stt", {"audio_source": "mqtt"}),
                                  ("tars_tts", "tts", {"sink": "wav", "data_dir": str(logs)}),
                                  ("tars_wake", "wake", {}), ("tars_router", "router", {})):
            stack.enter_context(worker_process(module, name, mqtt_url, namespace,
                                               logs / f"{name}.log", **env))
        stack.enter_context(worker_process(
            "tars_wyoming", "wyoming", mqtt_url, namespace, logs / "wyoming.log",
            asr_port=str(ports["asr"]), pipeline_port=str(ports["pipeline"]), tts_port="0",
            wake_port="0"))
        yield Bridge("127.0.0.1", ports, namespace, mqtt_url, logs)


async def test_satellite_turn_from_its_own_wake_word(turn_stack: Bridge) -> None:
    question = "What time is it?"
    audio = speech.with_silence(speech.piper(question), before_s=0.3, after_s=1.5)
    async with client(turn_stack.uri("pipeline")) as c:
        await c.write_event(RunPipeline(start_stage=PipelineStage.ASR, end_stage=PipelineStage.TTS,
                                        wake_word_name="hey_jarvis").event())
        await stream(c, audio, 16_000, speed=2.0, stop=False)
        events = await read_until(c, "transcript", timeout_s=60)  # the wake earcon may come first
        transcript = Transcript.from_event(events[-1])
        after = await read_until(c, "audio-stop", timeout_s=60)  # the reply's audio
        if not any(Synthesize.is_type(e.type) for e in after):
            after += await read_until(c, "synthesize", timeout_s=30)
    assert overlap(question, transcript.text) >= 0.75, transcript.text
    reply = next(Synthesize.from_event(e).text for e in after if Synthesize.is_type(e.type))
    assert reply.strip()
    assert [e.type for e in after].count("audio-start") == 1
    pcm, _ = pcm_of(after)
    heard = await transcribe(turn_stack.uri("asr"), speech.with_silence(pcm))
    assert overlap(reply, Transcript.from_event(heard[-1]).text) >= 0.6, (reply, heard[-1].data)
