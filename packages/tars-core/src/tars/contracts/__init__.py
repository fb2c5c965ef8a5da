"""Contracts: the envelope, one payload module per domain, and the topic registry."""

from tars.contracts import topics
from tars.contracts.envelope import (
    SCHEMA_VERSION,
    DecodeError,
    Envelope,
    Payload,
    decode,
    encode,
    new_id,
)
from tars.contracts.topics import TopicSpec

__all__ = [
    "SCHEMA_VERSION",
    "DecodeError",
    "Envelope",
    "Payload",
    "TopicSpec",
    "decode",
    "encode",
    "new_id",
    "topics",
]
