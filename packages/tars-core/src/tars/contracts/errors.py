"""Error events: what went wrong where, never the offending payload itself.

These are the payloads published on ``tars/system/error``; the exceptions are in
``tars.runtime.errors``.
"""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload

ErrorKind = Literal["decode", "validation", "handler", "config", "request", "dependency"]
"""What went wrong, as ``Service.report_error`` takes it and ``ErrorEvent.kind`` carries it:
``decode`` a message that is not a valid envelope / payload of its topic; ``validation`` a
well-formed message with content the worker refuses; ``handler`` a handler that failed;
``config`` a setting or local resource that does not work; ``request`` a request the worker
will not serve now (busy, refused); ``dependency`` something the worker relies on failed
(storage, a remote provider, another worker, an MCP server)."""


class ErrorEvent(Payload):
    service: str
    kind: ErrorKind
    topic: str | None = None
    reason: str
