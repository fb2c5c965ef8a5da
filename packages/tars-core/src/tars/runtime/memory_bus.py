"""InMemoryBus: the Bus for unit tests, with MQTT wildcard, retain and last-will semantics."""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field

from tars.runtime.bus import (
    ConnectHook,
    Message,
    RawHandler,
    Will,
    split_shared,
    topic_matches,
    validate_filter,
)
from tars.runtime.errors import BusError

_ids = itertools.count(1)
log = logging.getLogger("tars.bus")


class InMemoryBroker:
    """A process-local broker that several InMemoryBus clients share."""

    def __init__(self) -> None:
        self.clients: set[InMemoryBus] = set()
        self.retained: dict[str, Message] = {}
        self._turns: dict[str, int] = {}

    async def route(self, msg: Message) -> None:
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = msg
            else:
                self.retained.pop(msg.topic, None)
        live = Message(msg.topic, msg.payload, msg.qos, retain=False)
        groups: dict[str, list[_MemSub]] = {}
        for client in list(self.clients):
            client.deliver(live)
            for sub in client.subs:
                group, flt = split_shared(sub.topic_filter)
                if group is not None and topic_matches(client.namespace + flt, msg.topic):
                    groups.setdefault(f"{group}/{client.namespace}{flt}", []).append(sub)
        for key, members in sorted(groups.items()):  # a shared group: one member, round robin
            turn = self._turns.get(key, 0)
            self._turns[key] = turn + 1
            chosen = members[turn % len(members)]
            chosen.bus.enqueue(chosen, live)


@dataclass(eq=False)
class _MemSub:
    bus: InMemoryBus
    topic_filter: str
    handler: RawHandler
    active: bool = field(default=True)

    async def cancel(self) -> None:
        self.active = False
        if self in self.bus.subs:
            self.bus.subs.remove(self)


class InMemoryBus:
    """Same contract as MqttBus; messages are delivered in order by one reader task."""

    def __init__(self, broker: InMemoryBroker | None = None, client_id: str | None = None,
                 *, namespace: str = "", will: Will | None = None) -> None:
        self.broker = broker or InMemoryBroker()
        self.client_id = client_id or f"mem-{next(_ids)}"
        self.namespace = namespace
        self.will = will
        self.subs: list[_MemSub] = []
        self._hooks: list[ConnectHook] = []
        self._queue: asyncio.Queue[tuple[_MemSub, Message]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def on_connect(self, hook: ConnectHook) -> None:
        self._hooks.append(hook)

    async def start(self) -> None:
        if self._connected:
            return
        self.broker.clients.add(self)
        self._connected = True
        self._reader = asyncio.create_task(self._read(), name=f"{self.client_id}-reader")
        for hook in self._hooks:
            await hook()

    async def stop(self) -> None:
        """Clean disconnect: the last will is discarded, as MQTT does."""
        await self._disconnect(send_will=False)

    async def kill(self) -> None:
        """Abrupt disconnect: the broker publishes the last will."""
        await self._disconnect(send_will=True)

    async def _disconnect(self, *, send_will: bool) -> None:
        if not self._connected:
            return
        self._connected = False
        self.broker.clients.discard(self)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
            self._reader = None
        if send_will and self.will is not None:
            await self.broker.route(Message(self.will.topic, self.will.current(), self.will.qos,
                                            retain=self.will.retain))

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                      expiry_s: float | None = None) -> None:
        if not self._connected:
            raise BusError(f"{self.client_id}: not connected")
        if any(c in topic for c in "+#") or not topic:
            raise ValueError(f"bad topic {topic!r}")
        await self.broker.route(Message(self.namespace + topic, bytes(payload), qos, retain))

    async def subscribe(self, topic_filter: str, handler: RawHandler, *, qos: int = 1) -> _MemSub:
        validate_filter(topic_filter)
        sub = _MemSub(self, topic_filter, handler)
        self.subs.append(sub)
        group, flt = split_shared(topic_filter)
        full = self.namespace + flt
        for topic, msg in list(self.broker.retained.items()) if group is None else ():
            if topic_matches(full, topic):
                self._queue.put_nowait((sub, Message(topic, msg.payload, msg.qos, retain=True)))
        return sub

    def deliver(self, msg: Message) -> None:
        """Queue ``msg`` for every plain subscription it matches (shared ones: the broker picks)."""
        for sub in self.subs:
            if (not sub.topic_filter.startswith("$share/")
                    and topic_matches(self.namespace + sub.topic_filter, msg.topic)):
                self._queue.put_nowait((sub, msg))

    def enqueue(self, sub: _MemSub, msg: Message) -> None:
        self._queue.put_nowait((sub, msg))

    async def _read(self) -> None:
        while True:
            sub, msg = await self._queue.get()
            if not sub.active:
                continue
            topic = msg.topic[len(self.namespace):] if self.namespace else msg.topic
            try:
                await sub.handler(Message(topic, msg.payload, msg.qos, msg.retain))
            except Exception:
                log.exception("handler for %s failed", sub.topic_filter)
