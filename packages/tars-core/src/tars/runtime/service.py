"""Service: typed handlers on a Bus, with decoding, errors, de-duplication, health and lag."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from tars import __version__
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, pack_audio, unpack_audio
from tars.contracts.envelope import (
    SCHEMA_VERSION,
    DecodeError,
    Envelope,
    decode,
    encode,
    new_id,
    short_validation_error,
)
from tars.contracts.errors import ErrorEvent, ErrorKind
from tars.contracts.health import Heartbeat, Info, Status
from tars.contracts.topics import TopicSpec
from tars.runtime.bus import Bus, Message, Subscription, Will
from tars.runtime.dispatch import Dispatcher
from tars.runtime.errors import BusError
from tars.runtime.lag import LagMonitor
from tars.runtime.pool import Pool

M = TypeVar("M", bound=BaseModel)


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0
log = logging.getLogger("tars.service")


def _site(spec: TopicSpec, topic: str) -> str | None:
    """The ``{site}`` level of a concrete topic of ``spec``, if it has one."""
    if "site" not in spec.params:
        return None
    index = spec.pattern.split("/").index("{site}")
    parts = topic.split("/")
    return parts[index] if index < len(parts) else None


@dataclass(frozen=True)
class Inbound(Generic[M]):
    """A decoded message: its envelope, its typed payload, the concrete topic (and PCM)."""

    envelope: Envelope
    payload: M
    topic: str
    pcm: bytes = b""

    @property
    def correlation_id(self) -> str:
        return self.envelope.correlation_id

    @property
    def site_id(self) -> str | None:
        return self.envelope.site_id


Handler = Callable[[Inbound[Any]], Awaitable[None]]


@dataclass
class Counters:
    received: int = 0
    handled: int = 0
    errors: int = 0
    duplicates: int = 0
    expired: int = 0
    retained_commands: int = 0
    other_sites: int = 0
    """Messages of sites another pool member handles."""
    by_kind: dict[str, int] = field(default_factory=dict)


def instance_id(service: str) -> str:
    """Unique per process, so two instances of one worker can run side by side."""
    return f"{service}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def offline_will(service: str, instance: str) -> Will:
    """The retained "offline" status the broker publishes if the connection is lost; a new
    envelope id (and time) for every connection, so watchers never drop a will as a duplicate."""

    def payload() -> bytes:
        env = Envelope(type=T.SYSTEM_STATUS.type, source=instance,
                       data=Status(state="offline", instance=instance,
                                   reason="connection lost").model_dump())
        return encode(env)

    return Will(T.SYSTEM_STATUS.topic(service=service), payload(), qos=1, retain=True, fresh=payload)


class Service:
    """One worker's presence on the bus.

    Handlers are plain async functions taking ``Inbound[Model]``; they run concurrently
    through a bounded Dispatcher (ordered per correlation id on ``ordered`` topics). Bad
    input is logged, counted and reported on ``tars/system/error``; the service keeps going.

    ``pool`` places the instance in its role's pool: in a pool of several, topics the role shares
    are subscribed through ``$share/<name>/...`` (each message to one instance), topics
    it splits by site are handled only for this member's sites, and health is published under
    the member's own name (``llm-2``).
    """

    def __init__(self, name: str, bus: Bus, *, instance: str | None = None, site_id: str | None = None,
                 max_concurrency: int = 64, heartbeat_s: float = 10.0,
                 models: dict[str, str] | None = None, capabilities: list[str] | None = None,
                 announce: bool = True, pool: Pool | None = None) -> None:
        self.name = name
        self.pool = pool or Pool(name)
        self.member = self.pool.member
        self.bus = bus
        self.instance = instance or bus.client_id
        self.site_id = site_id
        self.models = dict(models or {})
        self.capabilities = list(capabilities or [])
        self.heartbeat_s = heartbeat_s
        self.counters = Counters()
        self.dispatcher = Dispatcher(max_concurrency, on_error=lambda _e: self._count("handler"))
        self.lag = LagMonitor()
        self._handlers: list[tuple[TopicSpec, Handler, str | None]] = []
        self._subs: list[Subscription] = []
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._started_at = time.monotonic()
        self._stopping = asyncio.Event()
        self._heartbeat: asyncio.Task[None] | None = None
        self._cleanups: list[Callable[[], Awaitable[None] | None]] = []
        self._start_hooks: list[Callable[[], Awaitable[None]]] = []
        self._ready = False
        self._tasks: set[asyncio.Task[None]] = set()
        if announce:  # clients such as CLI commands do not announce a status
            bus.on_connect(self._announce)
        self.announce = announce

    # -- registration -------------------------------------------------------------------------
    def handle(self, spec: TopicSpec, handler: Handler, *, topic: str | None = None) -> None:
        """Call ``handler`` for every valid message on ``spec`` (or a narrower ``topic``)."""
        self._handlers.append((spec, handler, topic))

    def add_cleanup(self, fn: Callable[[], Awaitable[None] | None]) -> None:
        """Run ``fn`` at stop (in reverse order of registration)."""
        self._cleanups.append(fn)

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await ``hook`` once, after the service is connected and its handlers subscribed."""
        self._start_hooks.append(hook)

    def spawn(self, coro: Awaitable[None], name: str | None = None) -> asyncio.Task[None]:
        """Run a background task owned by the service: referenced, logged if it fails,
        cancelled at stop."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self._count("handler")
                log.error("background task %s failed", t.get_name(), exc_info=t.exception())

        task.add_done_callback(done)
        return task

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        self.lag.start()
        await _health_file(touch=False)  # a restarted container's old file must not look healthy
        # Subscribe first: the bus subscribes on connect before announcing "online", so a
        # client that reacts to the online status never finds a handler missing.
        for spec, handler, topic in self._handlers:
            await self._subscribe(spec, handler, topic)
        await self.bus.start()
        if self.announce:
            self._heartbeat = asyncio.create_task(self._beat(), name=f"{self.name}-heartbeat")
        for hook in self._start_hooks:
            await hook()
        # "starting" until the start hooks (warm-ups, first subscriptions) are done
        self._ready = True
        if self.announce and self.bus.connected:
            await self._announce()

    async def _subscribe(self, spec: TopicSpec, handler: Handler, topic: str | None) -> None:
        async def on_raw(msg: Message) -> None:
            await self._on_message(spec, handler, msg)

        flt = self.pool.filter(spec, topic or spec.filter)
        self._subs.append(await self.bus.subscribe(flt, on_raw, qos=spec.qos))

    async def stop(self, reason: str = "shutdown") -> None:
        self._stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        for sub in self._subs:
            await sub.cancel()
        await self.dispatcher.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for fn in reversed(self._cleanups):
            res = fn()
            if res is not None:
                await res
        if self.announce:
            try:
                await self.publish(T.SYSTEM_STATUS, Status(state="offline", instance=self.instance, reason=reason),
                                   params={"service": self.member})
            except BusError:
                log.debug("could not publish offline status (broker gone)")
        await self.bus.stop()
        await self.lag.stop()

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    # -- publishing ---------------------------------------------------------------------------
    async def publish(self, spec: TopicSpec, payload: BaseModel, *, correlation_id: str | None = None,
                      site_id: str | None = None, params: dict[str, str] | None = None,
                      in_reply_to: str | None = None, pcm: bytes | None = None,
                      retain: bool | None = None, expiry_s: float | None = None,
                      envelope_id: str | None = None) -> Envelope:
        """Wrap ``payload`` in an envelope and publish it on ``spec``'s topic."""
        if not isinstance(payload, spec.model):
            raise TypeError(f"{spec.pattern} carries {spec.model.__name__}, not {type(payload).__name__}")
        if retain and spec.command:
            raise ValueError(f"{spec.pattern} is a command topic: never retained")
        ttl = expiry_s if expiry_s is not None else spec.expiry_s
        now = time.time()
        # Every value here is ours and already valid: construct without re-validating.
        env = Envelope.model_construct(
            v=SCHEMA_VERSION, id=envelope_id or new_id(), correlation_id=correlation_id or new_id(),
            type=spec.type, ts=now, source=self.instance, site_id=site_id or self.site_id,
            expires_at=(now + ttl) if ttl else None, in_reply_to=in_reply_to,
            data=payload.model_dump(mode="json"))
        raw = pack_audio(env, pcm or b"") if spec.binary else encode(env)
        await self.bus.publish(spec.topic(**(params or {})), raw, qos=spec.qos,
                               retain=spec.retain if retain is None else retain, expiry_s=ttl)
        return env

    async def reply(self, request: Inbound[Any], spec: TopicSpec, payload: BaseModel) -> Envelope:
        """Publish ``payload`` as the answer to ``request`` (same correlation id and site)."""
        return await self.publish(spec, payload, correlation_id=request.correlation_id,
                                  site_id=request.site_id, in_reply_to=request.envelope.id)

    async def report_error(self, kind: ErrorKind, reason: str, *, topic: str | None = None,
                           correlation_id: str | None = None) -> None:
        self._count(kind)
        log.warning("%s error on %s: %s", kind, topic or "-", reason)
        event = ErrorEvent(service=self.name, kind=kind, topic=topic, reason=reason[:500])
        try:
            await self.publish(T.SYSTEM_ERROR, event, correlation_id=correlation_id)
        except BusError:
            log.debug("could not publish error event (broker gone)")

    # -- receiving ----------------------------------------------------------------------------
    def decode(self, spec: TopicSpec, msg: Message) -> Inbound[Any]:
        """Decode and validate; raises DecodeError (with a short reason) on bad input."""
        if spec.binary:
            env, pcm = unpack_audio(msg.payload)
        else:
            env, pcm = decode(msg.payload), b""
        try:
            payload: BaseModel = env.payload(spec.model)
        except ValidationError as exc:
            raise DecodeError(f"invalid {spec.model.__name__}: {short_validation_error(exc)}") from exc
        if spec.binary and isinstance(payload, AudioFrame) and payload.sample_format != "s16le":
            raise DecodeError("unsupported sample format")
        return Inbound(env, payload, msg.topic, pcm)

    async def _on_message(self, spec: TopicSpec, handler: Handler, msg: Message) -> None:
        self.counters.received += 1
        try:
            inbound = self.decode(spec, msg)
        except DecodeError as exc:
            await self.report_error("decode", str(exc), topic=msg.topic)
            return
        env = inbound.envelope
        if self.pool.splits(spec) and not self.pool.owns(_site(spec, msg.topic) or env.site_id):
            self.counters.other_sites += 1
            return
        if msg.retain and spec.command:
            self.counters.retained_commands += 1
            log.warning("ignored a retained %s on %s (commands are never replayed)", env.type, msg.topic)
            return
        seen = f"{id(handler):x}:{env.id}"  # per handler: two handlers of one message both run
        if seen in self._seen:
            self.counters.duplicates += 1
            return
        self._seen[seen] = None
        if len(self._seen) > 8192:
            self._seen.popitem(last=False)
        if env.expired() and not msg.retain:
            self.counters.expired += 1
            log.info("dropped expired %s on %s", env.type, msg.topic)
            return
        key = (spec.pattern, env.correlation_id) if spec.ordered else None

        async def job() -> None:
            await handler(inbound)
            self.counters.handled += 1

        await self.dispatcher.submit(job, key)

    def _count(self, kind: str) -> None:
        self.counters.errors += 1
        self.counters.by_kind[kind] = self.counters.by_kind.get(kind, 0) + 1

    # -- health -------------------------------------------------------------------------------
    async def _announce(self) -> None:
        state = "online" if self._ready else "starting"
        await self.publish(T.SYSTEM_STATUS, Status(state=state, instance=self.instance),
                           params={"service": self.member})
        await self.publish(T.SYSTEM_INFO, self.info(), params={"service": self.member})
        if self._ready:
            await _health_file(touch=True)

    def info(self) -> Info:
        return Info(service=self.name, instance=self.instance, version=__version__,
                    models=self.models, capabilities=self.capabilities)

    def heartbeat(self) -> Heartbeat:
        lag = self.lag.stats()
        return Heartbeat(uptime_s=time.monotonic() - self._started_at, lag_p50_ms=lag["lag_p50_ms"],
                         lag_p99_ms=lag["lag_p99_ms"], lag_max_ms=lag["lag_max_ms"],
                         handled=self.counters.handled, errors=self.counters.errors,
                         in_flight=self.dispatcher.in_flight, rss_mb=rss_mb(), pid=os.getpid())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                beat = self.heartbeat()
                self.lag.reset()  # each heartbeat's lag covers the time since the one before
                await self.publish(T.SYSTEM_HEARTBEAT, beat, params={"service": self.member})
                if self._ready:
                    await _health_file(touch=True)
            except BusError:
                pass


HEALTH_FILE_ENV = "TARS_HEALTH_FILE"
"""A file the service touches while it is online and its heartbeats reach the broker (containers'
health checks read its age instead of connecting, which would take over the worker's client id)."""


async def _health_file(*, touch: bool) -> None:
    name = os.environ.get(HEALTH_FILE_ENV)
    if not name:
        return
    path = Path(name)

    def act() -> None:
        try:
            path.touch() if touch else path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("health file %s: %s", path, exc)

    await asyncio.to_thread(act)
