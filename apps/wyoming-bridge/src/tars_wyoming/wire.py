"""Wyoming framing: a tolerant reader (one bad event is rejected, not fatal) and a writer.

Errors::

    WireError
    ├── BadEvent       one event is rejected with an ``error`` event; the connection goes on
    └── FramingError   the stream cannot be followed any more; the connection is closed
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from wyoming.event import Event

from tars.errors import TarsError

MAX_DATA = 1 << 20
MAX_PAYLOAD = 8 << 20
_NEWLINE = b"\n"


class WireError(TarsError):
    """Base of what a client can get wrong on the wire; ``code`` goes into the error event."""

    code = "bad-event"


class BadEvent(WireError):
    """This event is rejected; the next one is read as usual."""

    def __init__(self, reason: str, code: str = "bad-event") -> None:
        super().__init__(reason)
        self.code = code


class FramingError(WireError):
    """Lengths or bytes that lose the event boundaries: the connection must close."""

    code = "bad-framing"


def _length(header: dict[str, Any], key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise FramingError(f"{key} must be an integer within 0..{limit}, got {value!r}")
    return value


async def _exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError as exc:
        raise FramingError("connection closed inside an event") from exc


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """The next event, or None at a clean end of stream; raises BadEvent / FramingError."""
    try:
        line = await reader.readuntil(_NEWLINE)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise FramingError("connection closed inside an event header") from exc
    except asyncio.LimitOverrunError as exc:
        raise FramingError("event header line too long") from exc
    if not line.strip():
        raise BadEvent("empty header line")
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent("event header is not JSON") from exc
    if not isinstance(header, dict):
        raise BadEvent(f"event header is not a JSON object but {type(header).__name__}")
    data_bytes = await _exactly(reader, _length(header, "data_length", MAX_DATA))
    payload = await _exactly(reader, _length(header, "payload_length", MAX_PAYLOAD))
    data = header.get("data") or {}
    if not isinstance(data, dict):
        raise BadEvent("event data is not a JSON object")
    if data_bytes:
        try:
            extra = json.loads(data_bytes)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadEvent("event data is not JSON") from exc
        if not isinstance(extra, dict):
            raise BadEvent("event data is not a JSON object")
        data.update(extra)
    kind = header.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadEvent("event without a type")
    return Event(type=kind, data=data, payload=payload or None)


def encode_event(event: Event) -> bytes:
    """The bytes of ``event`` (header line, data, payload), as the wyoming library frames them."""
    from wyoming.version import __version__

    header: dict[str, Any] = {"type": event.type, "version": __version__}
    data = json.dumps(event.data, ensure_ascii=False).encode() if event.data else b""
    if data:
        header["data_length"] = len(data)
    if event.payload:
        header["payload_length"] = len(event.payload)
    return json.dumps(header, ensure_ascii=False).encode() + _NEWLINE + data + (event.payload or b"")
