"""The envelope every tars message travels in, and its orjson codec."""

from __future__ import annotations

import builtins
import time
import uuid
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tars.errors import TarsError

SCHEMA_VERSION = "1.0"
SCHEMA_MAJOR = 1

M = TypeVar("M", bound=BaseModel)


def new_id() -> str:
    return uuid.uuid4().hex


class Payload(BaseModel):
    """Base of every payload: unknown fields from a newer minor version are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=False)


class Envelope(BaseModel):
    """Metadata shared by every message; ``data`` holds the typed payload as a mapping."""

    model_config = ConfigDict(extra="ignore")

    v: str = SCHEMA_VERSION
    id: str = Field(default_factory=new_id)
    correlation_id: str = Field(default_factory=new_id)
    type: str
    ts: float = Field(default_factory=time.time)
    source: str = ""
    site_id: str | None = None
    expires_at: float | None = None
    in_reply_to: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def payload(self, model: builtins.type[M]) -> M:
        """Validate ``data`` as ``model`` (raises pydantic.ValidationError)."""
        result: M = model.model_validate(self.data)
        return result

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) > self.expires_at


class DecodeError(TarsError, ValueError):
    """Bytes that are not a tars envelope this reader understands."""


_FIELDS = ("v", "id", "correlation_id", "type", "ts", "source", "site_id", "expires_at", "in_reply_to")


def encode(envelope: Envelope) -> bytes:
    """JSON bytes of the envelope (fields that are None are left out)."""
    obj: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(envelope, name)
        if value is not None:
            obj[name] = value
    obj["data"] = envelope.data
    return orjson.dumps(obj)


def decode(raw: bytes) -> Envelope:
    """Decode bytes into an Envelope; any failure becomes a DecodeError with a short reason."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc.msg}") from exc
    if not isinstance(obj, dict):
        raise DecodeError(f"not a JSON object but {type(obj).__name__}")
    try:
        env = Envelope.model_validate(obj)
    except ValidationError as exc:
        raise DecodeError(f"not an envelope: {_short(exc)}") from exc
    major = env.v.split(".", 1)[0]
    if major != str(SCHEMA_MAJOR):
        raise DecodeError(f"unsupported schema version {env.v!r} (this reader speaks {SCHEMA_VERSION})")
    return env


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def short_validation_error(exc: ValidationError) -> str:
    return _short(exc)
