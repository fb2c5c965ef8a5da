"""MqttBus: the only module that imports aiomqtt. Reconnects with backoff and resubscribes."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import socket
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tars.runtime.bus import (
    ConnectHook,
    Message,
    RawHandler,
    Will,
    shared_filter,
    split_shared,
    topic_matches,
    validate_filter,
)
from tars.runtime.errors import BusError, ConfigError

log = logging.getLogger("tars.bus")
# aiomqtt's own chatter ("There are N pending publish calls") is noise at our load levels.
_client_log = logging.getLogger("tars.bus.client")
_client_log.setLevel(logging.ERROR)
_NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


@functools.lru_cache(maxsize=64)
def _expiry_properties(seconds: int) -> Properties:
    """PUBLISH properties with a message expiry; cached, since paho only reads them."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.MessageExpiryInterval = seconds
    return props


@dataclass(frozen=True)
class BrokerAddress:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://user:pass@host:port``; ``mqtts://...?ca=PATH[&cert=PATH&key=PATH]`` for TLS
        (the CA to trust, and a client certificate when the broker requires one)."""
        if not url:  # BusError: every command reports it as "cannot reach the broker"
            raise BusError("no broker: start the stack with `tars up`, or set TARS_MQTT_URL "
                              "(or pass --url)")
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"mqtt_url: expected mqtt://[user:pass@]host[:port], got {url!r}")
        try:
            port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        except ValueError as exc:
            raise ConfigError(f"mqtt_url: bad port in {url!r}") from exc
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"ca", "cert", "key"}
        if unknown or (query and parts.scheme != "mqtts") or ("cert" in query) != ("key" in query):
            raise ConfigError(f"mqtt_url: the query takes ca, cert and key (cert with key) and only "
                              f"with mqtts://, got {parts.query!r}")
        return cls(
            host=parts.hostname, port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=parts.scheme == "mqtts", ca=query.get("ca"), cert=query.get("cert"),
            key=query.get("key"),
        )

    def url(self, *, secret: bool = False) -> str:
        auth = ""
        if self.username:
            auth = self.username + (f":{self.password if secret else '***'}" if self.password else "") + "@"
        return f"{'mqtts' if self.tls else 'mqtt'}://{auth}{self.host}:{self.port}"


@dataclass(eq=False)
class _MqttSub:
    bus: MqttBus
    topic_filter: str
    handler: RawHandler
    qos: int
    active: bool = field(default=True)

    async def cancel(self) -> None:
        self.active = False
        await self.bus._remove(self)


STOP_TIMEOUT_S = 5.0
"""How long ``MqttBus.stop`` waits for the connection to close."""


class MqttBus:
    """A Bus over a real MQTT 5 broker (Mosquitto), with a last will and reconnection.

    Reconnection: after a lost connection it waits ``backoff`` seconds (doubling from
    ``reconnect_min`` to ``reconnect_max``, with full jitter), reconnects with the same client id
    and a resumed session, resubscribes every filter and runs the on-connect hooks again. The loss
    and the recovery are each logged once.
    """

    def __init__(self, address: BrokerAddress | str, client_id: str, *, namespace: str = "",
                 will: Will | None = None, keepalive: int = 15, reconnect_min: float = 0.2,
                 reconnect_max: float = 10.0, connect_timeout: float = 10.0,
                 publish_timeout: float = 5.0, session_expiry_s: int = 300) -> None:
        self.address = BrokerAddress.parse(address) if isinstance(address, str) else address
        self.client_id = client_id
        self.namespace = namespace
        self.will = will
        self.keepalive = keepalive
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.session_expiry_s = session_expiry_s
        self.reconnects = 0
        self._subs: list[_MqttSub] = []
        self._hooks: list[ConnectHook] = []
        self._client: aiomqtt.Client | None = None
        self._up = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._first_error: BaseException | None = None

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def on_connect(self, hook: ConnectHook) -> None:
        self._hooks.append(hook)

    async def start(self) -> None:
        """Connect (waiting up to ``connect_timeout``) and keep the connection up afterwards."""
        if self._runner is not None:
            return
        self._runner = asyncio.create_task(self._run(), name=f"{self.client_id}-mqtt")
        try:
            await asyncio.wait_for(self._up.wait(), self.connect_timeout)
        except TimeoutError:
            await self.stop()
            reason = f": {self._first_error}" if self._first_error else ""
            raise BusError(f"cannot reach the MQTT broker at {self.address.url()}{reason}") from None

    async def stop(self) -> None:
        """Disconnect cleanly (the broker discards the last will)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            # bounded: a connection the broker already dropped may never confirm the disconnect
            done, _ = await asyncio.wait({runner}, timeout=STOP_TIMEOUT_S)
            if not done:
                log.warning("the connection to %s did not close within %.0f s; left behind",
                            self.address.url(), STOP_TIMEOUT_S)
        self._up.clear()
        self._client = None

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                      expiry_s: float | None = None) -> None:
        props = _expiry_properties(max(1, int(expiry_s))) if expiry_s is not None else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * self.publish_timeout
        while True:
            client = await self._wait_up(topic, deadline - loop.time())
            try:
                await client.publish(self.namespace + topic, payload, qos=qos, retain=retain,
                                     properties=props, timeout=self.publish_timeout)
                return
            except aiomqtt.MqttError as exc:
                # The connection died under us: retry once it is back, within the deadline.
                if loop.time() >= deadline - 0.1:
                    raise BusError(f"publish to {topic}: {exc}") from exc
                await asyncio.sleep(0.05)

    async def _wait_up(self, topic: str, budget: float) -> aiomqtt.Client:
        if not self._up.is_set():
            try:
                await asyncio.wait_for(self._up.wait(), max(0.0, budget))
            except TimeoutError:
                raise BusError(f"publish to {topic}: broker unreachable") from None
        client = self._client
        if client is None:
            raise BusError(f"publish to {topic}: not connected")
        return client

    async def subscribe(self, topic_filter: str, handler: RawHandler, *, qos: int = 1) -> _MqttSub:
        validate_filter(topic_filter)
        sub = _MqttSub(self, topic_filter, handler, qos)
        first = not any(s.topic_filter == topic_filter for s in self._subs)
        self._subs.append(sub)
        if first and self._client is not None and self._up.is_set():
            try:
                await self._client.subscribe(self._wire(topic_filter), qos=qos)
            except aiomqtt.MqttError as exc:
                raise BusError(f"subscribe {topic_filter}: {exc}") from exc
        return sub

    async def _remove(self, sub: _MqttSub) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        still = any(s.topic_filter == sub.topic_filter for s in self._subs)
        if not still and self._client is not None and self._up.is_set():
            try:
                await self._client.unsubscribe(self._wire(sub.topic_filter))
            except aiomqtt.MqttError:
                log.debug("unsubscribe %s failed (connection lost)", sub.topic_filter)

    def _wire(self, topic_filter: str) -> str:
        """The filter as sent to the broker: the namespace goes after a ``$share/<group>/``."""
        group, flt = split_shared(topic_filter)
        return shared_filter(group, self.namespace + flt) if group else self.namespace + flt

    def _client_for(self, first: bool) -> aiomqtt.Client:
        will = None
        if self.will is not None:
            will = aiomqtt.Will(self.namespace + self.will.topic, self.will.current(),
                                qos=self.will.qos, retain=self.will.retain)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        return aiomqtt.Client(
            self.address.host, self.address.port, identifier=self.client_id,
            username=self.address.username, password=self.address.password,
            protocol=aiomqtt.ProtocolVersion.V5, will=will, keepalive=self.keepalive,
            clean_start=first, properties=props, timeout=self.connect_timeout,
            tls_params=self._tls(),
            socket_options=_NODELAY, logger=_client_log, max_queued_outgoing_messages=10_000,
        )

    def _tls(self) -> aiomqtt.TLSParameters | None:
        a = self.address
        if not a.tls:
            return None
        return aiomqtt.TLSParameters(ca_certs=a.ca, certfile=a.cert, keyfile=a.key)

    async def _run(self) -> None:
        backoff = self.reconnect_min
        first = True
        lost = False
        while True:
            try:
                async with self._client_for(first) as client:
                    self._client = client
                    filters = {s.topic_filter: s.qos for s in self._subs}
                    for flt, qos in filters.items():
                        await client.subscribe(self._wire(flt), qos=qos)
                    first, backoff = False, self.reconnect_min
                    self._up.set()
                    if lost:
                        log.warning("broker %s is back; resubscribed %d filters",
                                    self.address.url(), len(filters))
                        self.reconnects += 1
                        lost = False
                    for hook in self._hooks:
                        await hook()
                    async for m in client.messages:
                        await self._deliver(m)
            except aiomqtt.MqttError as exc:
                self._up.clear()
                self._client = None
                if self._first_error is None:
                    self._first_error = exc
                if not lost:
                    log.warning("lost the broker %s (%s); reconnecting with backoff",
                                self.address.url(), exc)
                    lost = True
                await asyncio.sleep(random.uniform(self.reconnect_min, backoff))
                backoff = min(self.reconnect_max, backoff * 2)

    async def _deliver(self, m: aiomqtt.Message) -> None:
        topic = m.topic.value
        if self.namespace:
            if not topic.startswith(self.namespace):
                return
            topic = topic[len(self.namespace):]
        raw = m.payload
        payload = raw if isinstance(raw, bytes) else str(raw).encode() if raw is not None else b""
        msg = Message(topic, payload, m.qos, bool(m.retain))
        for sub in list(self._subs):
            if sub.active and topic_matches(sub.topic_filter, topic):
                try:
                    await sub.handler(msg)
                except Exception:
                    log.exception("handler for %s failed", sub.topic_filter)
