"""The generated ACL on a real Mosquitto: every credential x every topic x read/write is exactly
what the topic registry declares; client ids are bound to credentials; nothing anonymous."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.topics import TopicSpec
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message
from tars.runtime.errors import BusError
from tars.runtime.mqtt import MqttBus
from tars.stack import access
from tars.stack.auth import Credentials

pytestmark = pytest.mark.broker

SATELLITES = ("kitchen", "hall")
USERS = access.users(SATELLITES)
# {site}: both satellites' sites and one without a satellite; {service}: every credential.
VALUES = {"site": [*SATELLITES, "porch"], "service": USERS, "provider": ["tools", "mcp-notes"]}


def concrete(spec: TopicSpec) -> list[tuple[dict[str, str], str]]:
    names = spec.params
    combos = itertools.product(*(VALUES[n] for n in names)) if names else [()]
    return [(dict(zip(names, c, strict=True)), spec.topic(**dict(zip(names, c, strict=True))))
            for c in combos]


TOPICS = [(spec, values, topic) for spec in T.ALL for values, topic in concrete(spec)]


def allowed(user: str, spec: TopicSpec, values: dict[str, str], write: bool) -> bool:
    """The declared grant, read straight off the registry (independent of the ACL generator)."""
    if user == T.CLI:
        return True
    role = T.SATELLITE if user.startswith("satellite-") else user
    if role not in (spec.pub if write else spec.sub):
        return False
    if write and "service" in values and values["service"] != user:
        return False
    return not (role == T.SATELLITE and "site" in values
                and values["site"] != user.removeprefix("satellite-"))


@dataclass
class Stack:
    broker: LocalBroker
    creds: Credentials

    def url(self, user: str) -> str:
        port = self.broker.admin_port if user == T.CLI else self.broker.port
        return self.creds.url(user, "127.0.0.1", port)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("acl")
    creds = Credentials(workdir).load_or_create(SATELLITES)
    passwd, admin, acl = creds.write_broker_files()
    broker = LocalBroker(workdir=workdir, password_file=passwd, admin_password_file=admin,
                         acl_file=acl, bind_client_ids=True)
    with broker:
        yield Stack(broker, creds)


@pytest.fixture
async def buses() -> AsyncIterator[list[MqttBus]]:
    made: list[MqttBus] = []
    yield made
    await asyncio.gather(*(b.stop() for b in made))


async def connect(stack: Stack, made: list[MqttBus], user: str, client_id: str | None = None) -> MqttBus:
    bus = MqttBus(stack.url(user), client_id or f"{user}-{uuid.uuid4().hex[:6]}", connect_timeout=5, reconnect_max=1)
    made.append(bus)
    await bus.start()
    return bus


class Inbox:
    def __init__(self) -> None:
        self.got: set[bytes] = set()
        self.last = asyncio.get_running_loop().time()

    async def __call__(self, msg: Message) -> None:
        self.got.add(msg.payload)
        self.last = asyncio.get_running_loop().time()

    async def quiet(self, for_s: float = 1.0, max_s: float = 15) -> None:
        """Return once nothing has arrived for ``for_s`` since this call (at most ``max_s``)."""
        loop = asyncio.get_running_loop()
        self.last = max(self.last, loop.time())
        for _ in range(int(max_s / 0.1)):
            if loop.time() - self.last >= for_s:
                return
            await asyncio.sleep(0.1)


async def test_write_matrix_is_exactly_the_declared_grants(stack: Stack, buses: list[MqttBus]) -> None:
    cli = await connect(stack, buses, T.CLI)
    inbox = Inbox()
    await cli.subscribe("#", inbox)
    for user in USERS:
        bus = await connect(stack, buses, user)
        for _spec, _values, topic in TOPICS:
            await bus.publish(topic, f"{user}|{topic}".encode(), qos=1)
    await inbox.quiet(max_s=20)
    expected = {f"{u}|{t}".encode() for u in USERS for s, v, t in TOPICS if allowed(u, s, v, True)}
    assert {p for p in inbox.got if b"|" in p} == expected
    assert len(expected) < len(USERS) * len(TOPICS) // 4  # far from "everyone writes everything"


async def test_read_matrix_is_exactly_the_declared_grants(stack: Stack, buses: list[MqttBus]) -> None:
    inboxes: dict[str, Inbox] = {}
    for user in USERS:
        bus = await connect(stack, buses, user)
        inboxes[user] = Inbox()
        for flt in ["#", "tars/#", *(t for _s, _v, t in TOPICS)]:
            await bus.subscribe(flt, inboxes[user])
    cli = await connect(stack, buses, T.CLI, "cli-publisher")
    for _spec, _values, topic in TOPICS:
        await cli.publish(topic, topic.encode(), qos=1)
    for inbox in inboxes.values():
        await inbox.quiet()
    for user in USERS:
        expected = {t.encode() for s, v, t in TOPICS if allowed(user, s, v, False)}
        assert inboxes[user].got == expected, user
    kitchen = inboxes["satellite-kitchen"].got
    assert T.AUDIO_OUT.topic(site="kitchen").encode() in kitchen
    assert not {T.AUDIO_MIC.topic(site="hall").encode(), T.AUDIO_OUT.topic(site="hall").encode(),
                T.STT_FINAL.topic().encode()} & kitchen


async def test_client_id_takeover_is_refused(stack: Stack, buses: list[MqttBus]) -> None:
    llm = await connect(stack, buses, "llm", "llm")
    inbox = Inbox()
    await llm.subscribe(T.LLM_REQUEST.topic(), inbox)
    for attempt in range(5):  # a satellite (and another service) using the llm's client id
        await connect(stack, buses, "satellite-kitchen", "llm")
        await connect(stack, buses, "tools", "llm")
        await asyncio.sleep(0.2 if attempt else 0.5)
    cli = await connect(stack, buses, T.CLI, "cli-check")
    await cli.publish(T.LLM_REQUEST.topic(), b"still here", qos=1)
    await inbox.quiet()
    assert inbox.got == {b"still here"}
    assert llm.connected and llm.reconnects == 0


async def test_nothing_anonymous_and_no_operator_on_the_service_listener(stack: Stack) -> None:
    host = "127.0.0.1"
    for url in (f"mqtt://{host}:{stack.broker.port}", f"mqtt://{host}:{stack.broker.admin_port}",
                stack.creds.url(T.CLI, host, stack.broker.port),
                stack.creds.url("llm", host, stack.broker.admin_port),
                f"mqtt://llm:wrong@{host}:{stack.broker.port}"):
        bus = MqttBus(url, "intruder", connect_timeout=1.5, reconnect_max=0.5)
        with pytest.raises(BusError):
            await bus.start()


def test_acl_file_has_a_block_per_credential_and_no_wildcard_but_cli(tmp_path: Path) -> None:
    text = access.acl_text(access.users(("kitchen",)))
    blocks = {b.split("\n", 1)[0].removeprefix("user "): b for b in text.split("\n\n")[1:]}
    assert set(blocks) == set(access.users(("kitchen",)))
    for user, block in blocks.items():
        hashes = [ln for ln in block.splitlines() if ln.endswith(" #") or ln.endswith(" tars/#")]
        assert (hashes == ["topic readwrite #"]) if user == T.CLI else hashes == [], user
    assert "topic write tars/audio/kitchen/mic" in blocks["satellite-kitchen"]
    with pytest.raises(ValueError):
        access.satellite_user("Kitchen/+")
