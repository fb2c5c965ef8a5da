"""Envelope codec: round trip, forward compatibility, and fuzzing of the decoder."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tars.contracts import DecodeError, Envelope, decode, encode
from tars.contracts.audio import AudioFrame, pack_audio, unpack_audio
from tars.contracts.stt import SttFinal


def test_round_trip_keeps_every_field() -> None:
    env = Envelope(type="stt.final", source="stt-1", site_id="kitchen",
                   data=SttFinal(text="hello", confidence=0.9).model_dump())
    back = decode(encode(env))
    assert back == env
    assert back.id != back.correlation_id
    assert back.payload(SttFinal).text == "hello"


def test_newer_minor_version_with_unknown_fields_is_read() -> None:
    raw = orjson.dumps({"v": "1.7", "id": "a", "correlation_id": "c", "type": "stt.final",
                        "ts": 1.0, "source": "x", "future_field": [1, 2],
                        "data": {"text": "hi", "brand_new": True}})
    env = decode(raw)
    assert env.payload(SttFinal).text == "hi"


def test_other_major_version_is_refused() -> None:
    raw = orjson.dumps({"v": "2.0", "type": "t", "data": {}})
    with pytest.raises(DecodeError, match="schema version"):
        decode(raw)


@pytest.mark.parametrize("raw", [b"", b"nope", b"[1,2]", b'{"type": 5}', b'"str"', b"\xff\xfe"])
def test_garbage_is_a_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(raw)


def test_audio_frames_carry_raw_pcm() -> None:
    pcm = bytes(range(200))
    env = Envelope(type="audio.frame", data=AudioFrame(seq=3).model_dump())
    back, got = unpack_audio(pack_audio(env, pcm))
    assert got == pcm and back.payload(AudioFrame).seq == 3
    with pytest.raises(DecodeError):
        unpack_audio(pack_audio(env, pcm + b"x"))
    with pytest.raises(DecodeError):
        unpack_audio(b"TPCM\x00\x00\xff\xffabc")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_decoder_fuzz_random_bytes(raw: bytes) -> None:
    try:
        decode(raw)
    except DecodeError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "id", "type", "ts", "data", "source", "site_id",
                                       "correlation_id", "expires_at", "x"]), json_values))
def test_decoder_fuzz_random_json(obj: dict[str, object]) -> None:
    try:
        env = decode(orjson.dumps(obj))
    except DecodeError:
        return
    assert isinstance(env.type, str)
