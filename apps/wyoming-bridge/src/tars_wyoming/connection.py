"""One client connection: the read loop, replies, and bad input rejected without closing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from wyoming.error import Error
from wyoming.event import Event, Eventable
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong

from tars.runtime import Service
from tars_wyoming.routes import Catalog, Routes
from tars_wyoming.settings import Settings
from tars_wyoming.wire import BadEvent, FramingError, WireError, encode_event, read_event

log = logging.getLogger(__name__)
REPORTS_PER_CONNECTION = 10
IGNORED = {"select-program", "run-satellite", "pause-satellite", "played"}


@dataclass
class Context:
    """What every connection shares: the bus service, routes, the workers' catalog, settings."""

    service: Service
    routes: Routes
    catalog: Catalog
    settings: Settings
    rejected: int = 0
    connections: int = 0


class Connection:
    """Reads events and hands them to ``handle``; a subclass serves one Wyoming domain."""

    domain = "wyoming"

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 ctx: Context, describe: Callable[[], Info]) -> None:
        self.reader = reader
        self.writer = writer
        self.ctx = ctx
        self.describe = describe
        self.id = uuid.uuid4().hex[:10]
        self.reports = 0
        self._write_lock = asyncio.Lock()
        self.closed = False

    def new_site(self, role: str) -> str:
        """A site of this connection's own on the bus (one per stream)."""
        return f"wyoming-{role}-{self.id}-{uuid.uuid4().hex[:6]}"

    async def run(self) -> None:
        self.ctx.connections += 1
        try:
            while not self.closed:
                try:
                    event = await read_event(self.reader)
                except FramingError as exc:
                    await self.reject(exc)
                    break
                except BadEvent as exc:
                    await self.reject(exc)
                    continue
                if event is None:
                    break
                try:
                    await self.dispatch(event)
                except BadEvent as exc:
                    await self.reject(exc, event.type)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("%s client %s went away", self.domain, self.id)
        finally:
            self.closed = True
            self.ctx.connections -= 1
            with contextlib.suppress(Exception):
                await self.cleanup()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def dispatch(self, event: Event) -> None:
        if Describe.is_type(event.type):
            await self.send(self.describe())
        elif Ping.is_type(event.type):
            text = event.data.get("text")
            await self.send(Pong(text=text if isinstance(text, str) else None))
        elif not await self.handle(event):
            if event.type in IGNORED:
                log.debug("%s: ignored %s", self.domain, event.type)
            else:
                raise BadEvent(f"the {self.domain} server does not take {event.type!r} events",
                               "unknown-event")

    async def handle(self, event: Event) -> bool:
        """Serve one event of this domain; False when the type is not one of them."""
        return False

    async def cleanup(self) -> None:
        """The client went away (or the server stops): stop what it started."""

    async def send(self, message: Eventable | Event) -> None:
        event = message if isinstance(message, Event) else message.event()
        async with self._write_lock:
            self.writer.write(encode_event(event))
            await self.writer.drain()

    async def reject(self, exc: WireError, event_type: str | None = None) -> None:
        """Answer with an ``error`` event; log, count and report on tars/system/error."""
        self.ctx.rejected += 1
        reason = f"{event_type}: {exc}" if event_type else str(exc)
        if self.reports < REPORTS_PER_CONNECTION:
            self.reports += 1
            await self.ctx.service.report_error(
                "validation", f"wyoming {self.domain} client {self.id}: {reason}")
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send(Error(text=reason, code=exc.code))
