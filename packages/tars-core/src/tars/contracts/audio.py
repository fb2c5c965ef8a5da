"""Audio frames: raw PCM in binary MQTT payloads, with a small JSON envelope as a header."""

from __future__ import annotations

import struct
from typing import Literal

from pydantic import Field, ValidationError

from tars.contracts.envelope import (
    DecodeError,
    Envelope,
    Payload,
    decode,
    encode,
    short_validation_error,
)

MAGIC = b"TPCM"
_HEADER = struct.Struct(">4sI")

AudioPurpose = Literal["turn", "transcription", "detection"]
"""Why the audio is sent: "turn" (a microphone: wake word, then a turn), "transcription" (a
client wants text only: never a wake event, never a turn), "detection" (wake word only)."""


class AudioFrame(Payload):
    """Header of one PCM chunk. The samples follow the header as raw bytes (no base64)."""

    sample_rate: int = Field(default=16_000, gt=0, le=384_000)
    channels: int = Field(default=1, ge=1, le=32)
    sample_format: Literal["s16le"] = "s16le"
    seq: int = 0
    audio_time_s: float = 0.0
    final: bool = False
    """The last frame of a stream: flushes the utterance in flight."""
    purpose: AudioPurpose = "turn"


def pack_audio(envelope: Envelope, pcm: bytes) -> bytes:
    """``TPCM`` + u32 header length + JSON envelope + raw PCM bytes."""
    header = encode(envelope)
    return _HEADER.pack(MAGIC, len(header)) + header + pcm


def unpack_audio(raw: bytes) -> tuple[Envelope, bytes]:
    if len(raw) < _HEADER.size or raw[:4] != MAGIC:
        raise DecodeError("not a tars audio frame (missing TPCM header)")
    _, size = _HEADER.unpack_from(raw)
    end = _HEADER.size + size
    if end > len(raw):
        raise DecodeError("truncated audio frame header")
    env = decode(raw[_HEADER.size:end])
    pcm = raw[end:]
    try:
        frame: AudioFrame = env.payload(AudioFrame)
    except ValidationError as exc:
        raise DecodeError(f"invalid audio header: {short_validation_error(exc)}") from exc
    if len(pcm) % (2 * frame.channels):
        raise DecodeError("PCM length is not a whole number of s16le samples")
    return env, pcm


def is_audio_frame(raw: bytes) -> bool:
    return raw[:4] == MAGIC
