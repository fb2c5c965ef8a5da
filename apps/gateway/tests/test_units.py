"""The gateway's pieces on the InMemoryBus with a hand-written stt stand-in; the upload parser."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tars_gateway.errors import BadRequest, TooLarge, Unavailable, UnsupportedMedia
from tars_gateway.health import HealthTable
from tars_gateway.live import LiveBus, TurnTracker
from tars_gateway.routes import Routes
from tars_gateway.transcribe import SttClient
from tars_gateway.upload import receive_upload

from tars.audio import SAMPLE_RATE
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.health import Heartbeat
from tars.contracts.stt import SttFinal, SttPartial
from tars.contracts.turn import TurnEvent, TurnResult
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service


class FakeStt:
    """Answers a transcription stream when its final frame comes: one final per entry of
    ``segments`` ((start, end) on the stream's clock), after ``delay_s``; a partial first."""

    def __init__(self, service: Service, segments: list[tuple[float, float]], delay_s: float = 0.05) -> None:
        self.service, self.segments, self.delay_s = service, segments, delay_s
        self.frames: dict[str, list[AudioFrame]] = {}
        service.handle(T.AUDIO_MIC, self.on_audio)

    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        frames = self.frames.setdefault(msg.correlation_id, [])
        frames.append(msg.payload)
        if not msg.payload.final:
            return
        origin = frames[0].audio_time_s
        site = msg.topic.split("/")[-2]
        await self.service.publish(T.STT_PARTIAL, SttPartial(text="x", speech_start_s=origin, audio_s=0.1,
                                                             purpose="transcription"),
                                   correlation_id=msg.correlation_id, site_id=site)
        for n, (start, end) in enumerate(self.segments):
            await asyncio.sleep(self.delay_s)
            await self.service.publish(T.STT_FINAL, SttFinal(text=f"part {n}", speech_start_s=origin + start,
                                                             speech_end_s=origin + end, purpose="transcription"),
                                       correlation_id=msg.correlation_id, site_id=site)


def speech_until(end_s: float, total_s: float) -> np.ndarray[Any, Any]:
    t = np.arange(int(total_s * SAMPLE_RATE)) / SAMPLE_RATE
    tone = (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16)
    tone[int(end_s * SAMPLE_RATE):] = 0
    return tone


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Service, Service, Routes]]:
    broker = InMemoryBroker()
    gw, stt = Service("gateway", InMemoryBus(broker)), Service("stt", InMemoryBus(broker))
    yield gw, stt, Routes()
    await gw.stop()
    await stt.stop()


async def start(gw: Service, stt: Service, routes: Routes) -> None:
    routes.install(gw)
    await stt.start()
    await gw.start()


async def test_transcript_is_complete_when_a_final_covers_the_last_loud_audio(pair: Any) -> None:
    gw, stt, routes = pair
    FakeStt(stt, [(0.1, 0.9), (1.6, 2.4)])
    client = SttClient(gw, routes, "gwtest", 2, settle_s=5.0)
    await start(gw, stt, routes)
    res = await asyncio.wait_for(client.transcribe(speech_until(2.5, 3.0), timeout_s=20), 3)
    assert res.text == "part 0 part 1"
    assert [(s.start_s, s.end_s) for s in res.segments] == [(0.1, 0.9), (1.6, 2.4)]
    assert res.duration_s == 3.0


async def test_two_requests_on_a_slot_never_mix(pair: Any) -> None:
    gw, stt, routes = pair
    FakeStt(stt, [(0.1, 0.9)])
    client = SttClient(gw, routes, "gwtest", 1, settle_s=5.0)
    await start(gw, stt, routes)
    first, second = await asyncio.gather(client.transcribe(speech_until(1.0, 1.2), timeout_s=20),
                                         client.transcribe(speech_until(1.0, 1.2), timeout_s=20))
    assert first.text == second.text == "part 0"


async def test_silence_settles_empty_and_a_silent_worker_is_504(pair: Any) -> None:
    gw, stt, routes = pair
    client = SttClient(gw, routes, "gwtest", 1, settle_s=0.2)
    await start(gw, stt, routes)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    res = await client.transcribe(np.zeros(SAMPLE_RATE, dtype=np.int16), timeout_s=10)
    assert res.text == "" and loop.time() - t0 < 2
    with pytest.raises(Unavailable) as info:
        await client.transcribe(speech_until(1.0, 1.2), timeout_s=0.5)
    assert info.value.status == 504


async def test_a_dropped_last_segment_ends_after_quiet(pair: Any) -> None:
    gw, stt, routes = pair
    FakeStt(stt, [(0.1, 0.6)])  # the worker's filter dropped the speech after 0.6 s
    client = SttClient(gw, routes, "gwtest", 1, settle_s=0.1)
    await start(gw, stt, routes)
    res = await asyncio.wait_for(client.transcribe(speech_until(2.5, 2.6), timeout_s=30), 5)
    assert res.text == "part 0"


async def test_turn_tracker_merges_router_stages_over_derived_ones(pair: Any) -> None:
    gw, router, routes = pair
    live = LiveBus(gw)
    tracker = TurnTracker(gw, routes, live)
    await start(gw, router, routes)
    queue = await live.join()
    cid = "c" * 32
    await router.publish(T.TURN_EVENT, TurnEvent(kind="started", stage="thinking"), correlation_id=cid)
    await router.publish(T.TURN_RESULT, TurnResult(text="hi", reply="hello", path="intent",
                                                   stages={"final": 100.0, "intent": 100.25, "end": 100.5}),
                         correlation_id=cid, site_id="kitchen")
    for _ in range(50):
        if tracker.turns.get(cid) and tracker.turns[cid].done:
            break
        await asyncio.sleep(0.01)
    view = tracker.recent()[0]
    assert view["reply"] == "hello" and view["done"]
    by_name = {s["name"]: s for s in view["stages"]}
    assert by_name["intent"]["offset_ms"] == 250.0 and by_name["end"]["ts"] == 100.5
    assert view["stages"][0]["name"] == "final"
    kinds = set()
    while not queue.empty():
        kinds.add(queue.get_nowait()["kind"])
    assert kinds == {"msg", "turn"}
    await live.leave(queue)
    assert live.subs == []


async def test_health_table_shows_each_worker_as_its_status_info_and_heartbeat_say(pair: Any) -> None:
    gw, stt, routes = pair
    health = HealthTable(gw, routes)
    stt.models = {"stt": "whisper-tiny"}
    await start(gw, stt, routes)
    await stt.publish(T.SYSTEM_HEARTBEAT, Heartbeat(uptime_s=3.0, lag_p50_ms=0.1, lag_p99_ms=0.5, lag_max_ms=1.0,
                                                    handled=7, errors=0, in_flight=0),
                      params={"service": "satellite-hall"})  # a heartbeat before any status
    for _ in range(100):
        if health.online("stt") and "satellite-hall" in health.snapshot():
            break
        await asyncio.sleep(0.01)
    seen = health.snapshot()
    assert seen["stt"]["state"] == "online" and seen["stt"]["instance"] == stt.instance
    assert seen["stt"]["models"] == {"stt": "whisper-tiny"} and "reason" not in seen["stt"]
    assert seen["satellite-hall"]["state"] == "unknown" and seen["satellite-hall"]["heartbeat"]["handled"] == 7
    assert not health.online("satellite-hall") and not health.online("llm")
    await stt.stop()
    for _ in range(100):
        if not health.online("stt"):
            break
        await asyncio.sleep(0.01)
    gone = health.snapshot()["stt"]
    assert (gone["state"], gone["reason"]) == ("offline", "shutdown") and gone["since"] >= seen["stt"]["since"]


async def chunks(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


def form(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, filename, value in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


async def test_upload_streams_to_a_temp_file_and_fields_to_memory(tmp_path: Path) -> None:
    body = form([("model", None, b"whisper-1"), ("file", "a.wav", b"RIFF" + b"\1" * 1000)])
    up = await receive_upload("multipart/form-data; boundary=b0undary", None, chunks(body), file_field="file",
                              limit=2000, temp_dir=str(tmp_path))
    assert up.fields == {"model": "whisper-1"} and up.filename == "a.wav" and up.size == 1004
    assert up.path is not None and up.path.read_bytes()[:4] == b"RIFF"
    up.remove()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("ctype", "body", "error"), [
    ("application/json", b"{}", UnsupportedMedia),
    ("multipart/form-data", b"", BadRequest),  # no boundary
    ("multipart/form-data; boundary=b0undary", form([("file", "a.wav", b"\0" * 5000)]), TooLarge),
    ("multipart/form-data; boundary=b0undary", form([("file", "a.wav", b"\0" * 500)])[:-40], BadRequest),
    ("multipart/form-data; boundary=b0undary", b"garbage without any boundary", BadRequest),
])
async def test_bad_uploads_leave_nothing(tmp_path: Path, ctype: str, body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        await receive_upload(ctype, None, chunks(body), file_field="file", limit=2000, temp_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []
