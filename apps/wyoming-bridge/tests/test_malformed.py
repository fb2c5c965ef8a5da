"""Malformed events: each is rejected with an ``error`` event, and the server keeps serving."""

from __future__ import annotations

import asyncio
import json

import pytest
from wyoming.event import Event
from wyoming.info import Describe, Info

from tars.contracts import topics as T
from tars.contracts.errors import ErrorEvent
from tars.runtime import Inbound, Service
from tars.runtime.connect import client_bus
from tars_wyoming.testing import Bridge
from tars_wyoming.wire import encode_event, read_event

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]


def raw(event_type: str, data: object = None, payload: bytes = b"") -> bytes:
    header: dict[str, object] = {"type": event_type}
    body = json.dumps(data).encode() if data is not None else b""
    if body:
        header["data_length"] = len(body)
    if payload:
        header["payload_length"] = len(payload)
    return json.dumps(header).encode() + b"\n" + body + payload


CHUNK = {"rate": 16000, "width": 2, "channels": 1}
BAD = {
    "asr": [b"this is not json\n", b"[1, 2, 3]\n", b'{"data": {}}\n',
            raw("audio-chunk", CHUNK, b"\x00\x00" * 160), raw("audio-stop"),
            raw("audio-start", {"rate": "fast", "width": 2, "channels": 1}),
            raw("audio-start", {"rate": 16000, "width": 2, "channels": 6}),
            raw("transcribe", {"language": 5}), raw("frobnicate"),
            b'{"type": "transcribe", "data_length": 3}\nxyz'],
    "tts": [raw("synthesize", {}), raw("synthesize", {"text": ["a"]}),
            raw("synthesize", {"text": "hi", "voice": "loud"}), raw("synthesize-chunk", {"text": "x"}),
            raw("synthesize-stop"), raw("audio-start", CHUNK)],
    "wake": [raw("detect", {"names": "hey_jarvis"}), raw("audio-chunk", CHUNK, b"\x00"),
             raw("audio-stop")],
    "pipeline": [raw("run-pipeline", {"start_stage": "tts", "end_stage": "wake"}),
                 raw("audio-chunk", CHUNK, b"\x00\x00")],
}


async def errors_then_info(bridge: Bridge, server: str, blobs: list[bytes]) -> list[Event]:
    reader, writer = await asyncio.open_connection(bridge.host, bridge.ports[server])
    try:
        got: list[Event] = []
        for blob in blobs:
            writer.write(blob)
            await writer.drain()
            event = await asyncio.wait_for(read_event(reader), 10)
            assert event is not None, f"{server}: connection closed after {blob[:60]!r}"
            got.append(event)
        writer.write(encode_event(Describe().event()))
        await writer.drain()
        info = await asyncio.wait_for(read_event(reader), 10)
        assert info is not None and Info.is_type(info.type)
        return got
    finally:
        writer.close()


@pytest.mark.parametrize("server", list(BAD))
async def test_each_bad_event_is_rejected_and_the_connection_goes_on(bridge: Bridge,
                                                                     server: str) -> None:
    got = await errors_then_info(bridge, server, BAD[server])
    assert [e.type for e in got] == ["error"] * len(BAD[server])
    assert all(e.data["text"] and e.data["code"] for e in got)


async def test_bad_framing_closes_only_that_connection(bridge: Bridge) -> None:
    reader, writer = await asyncio.open_connection(bridge.host, bridge.ports["asr"])
    writer.write(b'{"type": "audio-chunk", "payload_length": -5}\n')
    await writer.drain()
    error = await asyncio.wait_for(read_event(reader), 10)
    assert error is not None and error.type == "error" and error.data["code"] == "bad-framing"
    assert await asyncio.wait_for(reader.read(), 10) == b""  # closed by the server
    writer.close()
    assert await errors_then_info(bridge, "asr", []) == []


async def test_rejections_are_reported_on_the_bus(bridge: Bridge) -> None:
    bus = client_bus(bridge.mqtt_url, "test-wyoming-errors", namespace=bridge.namespace)
    observer = Service("observer", bus, announce=False)
    seen: list[ErrorEvent] = []

    async def on_error(msg: Inbound[ErrorEvent]) -> None:
        if msg.payload.service == "wyoming":
            seen.append(msg.payload)

    observer.handle(T.SYSTEM_ERROR, on_error)
    await observer.start()
    try:
        await errors_then_info(bridge, "tts", [raw("synthesize", {})])
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.1)
    finally:
        await observer.stop()
    assert seen and seen[0].kind == "validation" and "text" in seen[0].reason
