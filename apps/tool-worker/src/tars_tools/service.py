"""The tool worker on the bus: registry publishing, tool calls, timer announcements, MCP health."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from tars.contracts import tools as C
from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.tts import TtsSay
from tars.runtime import Inbound, Service
from tars_tools.announce import fired_sentence
from tars_tools.builtins import CALL_CONTEXT, CallContext, build_registry
from tars_tools.errors import ToolError
from tars_tools.mcp_hub import McpToolHub, ServerEvent, ServerEventKind
from tars_tools.memory import MemoryBridge
from tars_tools.settings import Settings
from tars_tools.timers import FiredTimer, TimerScheduler
from tars_tools.timerstore import TimerStorageError, TimerStore
from tars_tools.toolbox import Toolbox

log = logging.getLogger(__name__)

BUILTIN = "builtin"


def mcp_provider(server: str) -> str:
    """Registry provider of one MCP server: ``mcp-<server>``."""
    return f"mcp-{server}"


class ToolWorker:
    """Owns the toolbox, the scheduler, the MCP hub and the memory bridge of one service."""

    def __init__(self, settings: Settings, service: Service, store: TimerStore) -> None:
        self.settings = settings
        self.service = service
        self.scheduler = TimerScheduler(store, self._on_fire, late_grace_s=settings.late_grace_s)
        self.registry = build_registry(self.scheduler, default_timeout_s=settings.call_timeout_s)
        self.memory = MemoryBridge(service, settings.memory_timeout_s)
        self.memory.install(self.registry)
        self.hub = McpToolHub(settings.mcp_servers, on_event=self._on_server_event)
        self.toolbox = Toolbox(self.registry, self.hub)
        self._mcp_names = {s.name for s in settings.mcp_servers}

    def owns(self, name: str) -> bool:
        """Is ``name`` one of this worker's tools (built-in, or of a configured MCP server)?"""
        if name in self.registry.names():
            return True
        server, sep, _ = name.partition("__")
        return bool(sep) and server in self._mcp_names

    async def on_call(self, msg: Inbound[C.ToolCall]) -> None:
        call = msg.payload
        if not self.owns(call.name):
            return  # another provider may own it
        token = CALL_CONTEXT.set(CallContext(msg.site_id or "", msg.correlation_id))
        try:
            result = await self.toolbox.call(call.name, call.arguments, self.settings.call_timeout_s)
            reply = C.ToolResult(name=call.name, ok=True, content=result.text)
        except ToolError as exc:
            reply = C.ToolResult(name=call.name, ok=False, error=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, TimerStorageError):
                await self.storage_failed(msg, exc)
        finally:
            CALL_CONTEXT.reset(token)
        log.info("tool %s -> %s", call.name, "ok" if reply.ok else reply.error)
        await self.service.reply(msg, T.TOOLS_RESULT, reply)

    async def storage_failed(self, msg: Inbound[C.ToolCall], exc: TimerStorageError) -> None:
        """A timer write was refused: on tars/system/error, and in the status (the tool
        result already says it failed)."""
        reason = f"storage: {exc}"
        await self.service.report_error("dependency", reason, topic=msg.topic,
                                        correlation_id=msg.correlation_id)
        await self.service.publish(T.SYSTEM_STATUS, Status(state="online", instance=self.service.instance,
                                                           reason=reason[:300]),
                                   params={"service": self.service.name})

    async def publish_registry(self) -> None:
        """Publish (retained) the built-in registry and one registry per MCP server."""
        await self._publish(BUILTIN, self.registry.specs())
        for server in sorted(self._mcp_names):
            await self.publish_server(server)

    async def publish_server(self, server: str) -> None:
        specs = [t.spec for t in self.hub.tools() if t.server == server]
        await self._publish(mcp_provider(server), specs)

    async def _publish(self, provider: str, specs: list[C.ToolSpec]) -> None:
        await self.service.publish(T.TOOLS_REGISTRY, C.ToolRegistry(provider=provider, tools=specs),
                                   params={"provider": provider})

    async def _on_fire(self, fired: FiredTimer) -> None:
        text = fired_sentence(fired)
        log.info("timer %s fired on site %r: %s", fired.timer.id, fired.timer.site, text)
        await self.service.publish(T.TTS_SAY, TtsSay(text=text),
                                   site_id=fired.timer.site or self.service.site_id)

    async def _on_server_event(self, event: ServerEvent) -> None:
        if event.kind is ServerEventKind.DOWN:
            retry = f"; retry in {event.retry_in_s:.1f} s" if event.retry_in_s is not None else ""
            await self.service.report_error(
                "dependency", f"MCP server {event.server} down: {event.detail}{retry}",
                topic=T.TOOLS_REGISTRY.topic(provider=mcp_provider(event.server)))
        if self.service.bus.connected:
            await self.publish_server(event.server)

    async def start(self) -> None:
        await self.memory.start()
        missed = await self.scheduler.start()
        if missed:
            log.warning("%d timer(s) missed while the worker was down", len(missed))
        await self.hub.start()

    async def stop(self) -> None:
        await self.hub.stop()
        await self.scheduler.stop()
        await self.memory.close()


def _open_store(path: Path) -> TimerStore:
    return TimerStore(path)


async def build(settings: Settings, service: Service) -> None:
    """The runner's build hook (see :func:`build_worker`)."""
    await build_worker(settings, service)


async def build_worker(settings: Settings, service: Service) -> ToolWorker:
    """Open the timer store (off the loop), wire handlers, start timers and MCP once connected."""
    store = await asyncio.to_thread(_open_store, settings.timers_path())
    worker = ToolWorker(settings, service, store)
    service.handle(T.TOOLS_CALL, worker.on_call)
    service.bus.on_connect(worker.publish_registry)
    service.on_start(worker.start)
    service.add_cleanup(worker.stop)
    service.capabilities = worker.registry.names() + [f"mcp:{s.name}" for s in settings.mcp_servers]
    service.models = {"timers": str(settings.timers_path().name)}
    return worker
