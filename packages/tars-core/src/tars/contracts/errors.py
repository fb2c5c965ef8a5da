"""Error events: what went wrong where, never the offending payload itself."""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload


class ErrorEvent(Payload):
    service: str
    kind: Literal["decode", "validation", "handler", "config", "request", "dependency"]
    topic: str | None = None
    reason: str
