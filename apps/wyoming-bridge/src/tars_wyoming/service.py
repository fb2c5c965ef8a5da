"""The bridge on the bus: four Wyoming TCP servers whose connections are clients of the workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from wyoming.error import Error
from wyoming.info import Info

from tars.runtime import ConfigError, Service
from tars_wyoming.asr import AsrConnection
from tars_wyoming.connection import Connection, Context
from tars_wyoming.info import asr_info, pipeline_info, tts_info, wake_info
from tars_wyoming.pipeline import PipelineConnection
from tars_wyoming.routes import Catalog, Routes
from tars_wyoming.settings import Settings
from tars_wyoming.tts import TtsConnection
from tars_wyoming.wake import WakeConnection
from tars_wyoming.wire import encode_event

log = logging.getLogger(__name__)
Describe = Callable[[Catalog, list[str]], Info]


@dataclass
class WyomingServer:
    """One listening socket; each connection runs as a task of its own."""

    name: str
    port: int
    kind: type[Connection]
    describe: Describe
    ctx: Context
    server: asyncio.AbstractServer | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> None:
        host = self.ctx.settings.host
        try:
            self.server = await asyncio.start_server(self._accept, host=host, port=self.port)
        except OSError as exc:
            raise ConfigError(f"config error: wyoming.{self.name}_port: cannot listen on "
                              f"{host}:{self.port} ({exc.strerror or exc})") from exc
        sock = self.server.sockets[0].getsockname()
        log.info("wyoming %s server on %s:%s", self.name, sock[0], sock[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self.tasks) >= self.ctx.settings.max_clients:
            busy = Error(text=f"too many {self.name} clients", code="busy").event()
            with contextlib.suppress(ConnectionError):
                writer.write(encode_event(busy))
                await writer.drain()
            writer.close()
            return
        settings = self.ctx.settings

        def describe() -> Info:
            return self.describe(self.ctx.catalog, settings.languages)

        conn = self.kind(reader, writer, self.ctx, describe)
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await conn.run()
        finally:
            self.tasks.discard(task)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)


def servers(ctx: Context) -> list[WyomingServer]:
    s = ctx.settings
    wanted = [("asr", s.asr_port, AsrConnection, asr_info),
              ("tts", s.tts_port, TtsConnection, tts_info),
              ("wake", s.wake_port, WakeConnection, wake_info),
              ("pipeline", s.pipeline_port, PipelineConnection, pipeline_info)]
    return [WyomingServer(name, port, kind, describe, ctx)
            for name, port, kind, describe in wanted if port]


async def build(settings: Settings, service: Service) -> None:
    """The runner's build hook: routes and catalog on the bus; servers start once connected."""
    await setup(settings, service)


async def setup(settings: Settings, service: Service) -> list[WyomingServer]:
    routes, catalog = Routes(), Catalog()
    routes.register(service)
    catalog.register(service)
    ctx = Context(service, routes, catalog, settings)
    listening = servers(ctx)

    async def start() -> None:
        for server in listening:
            await server.start()

    async def stop() -> None:
        for server in listening:
            await server.stop()

    service.on_start(start)
    service.add_cleanup(stop)
    service.models = {}
    service.capabilities = [f"wyoming.{srv.name}:{settings.host}:{srv.port}" for srv in listening]
    return listening
