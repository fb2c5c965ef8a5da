"""Worker pools on a real Mosquitto with the generated ACL: a shared request topic reaches
exactly one member, a by-site topic stays with its site's member, members report health
under their own names; the same on the InMemoryBus."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.llm import LlmRequest
from tars.contracts.tts import TtsSay
from tars.runtime import Inbound, Service
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Bus, Message, shared_filter, split_shared, topic_matches
from tars.runtime.memory_bus import InMemoryBroker, InMemoryBus
from tars.runtime.mqtt import MqttBus
from tars.runtime.pool import Pool, member_name, site_owner
from tars.stack import access
from tars.stack.auth import Credentials

pytestmark = pytest.mark.broker
MEMBERS = ("llm-2", "tts-2")
SITES = [f"room{i}" for i in range(8)]


def test_pool_names_filters_and_site_split() -> None:
    assert member_name("llm", 0) == "llm" and member_name("llm", 2) == "llm-3"
    assert shared_filter("llm", "tars/llm/request") == "$share/llm/tars/llm/request"
    assert split_shared("$share/llm/tars/+/request") == ("llm", "tars/+/request")
    assert topic_matches("$share/g/tars/+/mic", "tars/audio/mic")
    pair = Pool("llm", 2, 1)
    assert pair.filter(T.LLM_REQUEST, T.LLM_REQUEST.filter) == "$share/llm/tars/llm/request"
    assert pair.filter(T.LLM_CANCEL, T.LLM_CANCEL.filter) == T.LLM_CANCEL.filter
    assert Pool("llm").filter(T.LLM_REQUEST, T.LLM_REQUEST.filter) == T.LLM_REQUEST.filter
    owners = [site_owner(s, 2) for s in SITES]
    assert owners == [site_owner(s, 2) for s in SITES] and min(Counter(owners).values()) >= 3
    with pytest.raises(ValueError):
        Pool("llm", 2, 2)
    assert access.role_of("llm-2") == ("llm", None)
    assert access.pool_members({"llm": 3, "stt": 1}) == ["llm-2", "llm-3"]
    with pytest.raises(ValueError):
        access.role_of("nobody-2")
    with pytest.raises(ValueError):
        access.pool_members({"nobody": 2})


@pytest.fixture(scope="module")
def acl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalBroker, Credentials]]:
    workdir: Path = tmp_path_factory.mktemp("pool")
    creds = Credentials(workdir).load_or_create((), MEMBERS)
    passwd, admin, acl = creds.write_broker_files()
    broker = LocalBroker(workdir=workdir, password_file=passwd, admin_password_file=admin,
                         acl_file=acl, bind_client_ids=True)
    with broker:
        yield broker, creds


Factory = Callable[[str], Bus]


@pytest.fixture
async def mqtt_factory(acl_broker: tuple[LocalBroker, Credentials]) -> AsyncIterator[Factory]:
    broker, creds = acl_broker
    made: list[MqttBus] = []

    def make(user: str) -> Bus:
        port = broker.admin_port if user == T.CLI else broker.port
        bus = MqttBus(creds.url(user, "127.0.0.1", port), f"{user}-{uuid.uuid4().hex[:6]}",
                      connect_timeout=5, reconnect_max=1)
        made.append(bus)
        return bus

    yield make
    await asyncio.gather(*(b.stop() for b in made))


@pytest.fixture
def memory_factory() -> Factory:
    broker = InMemoryBroker()
    return lambda user: InMemoryBus(broker, client_id=user)


class Member:
    """One pool member: counts what it handled."""

    def __init__(self, role: str, index: int, size: int, make: Factory) -> None:
        self.service = Service(role, make(member_name(role, index)), pool=Pool(role, size, index),
                               heartbeat_s=0.2)
        self.requests: list[str] = []
        self.sites: list[str] = []

    async def on_request(self, msg: Inbound[LlmRequest]) -> None:
        self.requests.append(msg.payload.text)

    async def on_say(self, msg: Inbound[TtsSay]) -> None:
        self.sites.append(msg.site_id or "")


async def run_pool(make: Factory, n: int = 60) -> tuple[list[Member], list[Member], Counter[str]]:
    llms = [Member("llm", i, 2, make) for i in range(2)]
    ttss = [Member("tts", i, 2, make) for i in range(2)]
    for m in llms:
        m.service.handle(T.LLM_REQUEST, m.on_request)
    for m in ttss:
        m.service.handle(T.TTS_SAY, m.on_say)
    watcher = make(T.CLI)
    health: Counter[str] = Counter()

    async def on_health(msg: Message) -> None:
        health[msg.topic.rsplit("/", 1)[-1]] += 1

    await watcher.start()
    await watcher.subscribe(T.SYSTEM_HEARTBEAT.filter, on_health, qos=0)
    await watcher.subscribe(T.SYSTEM_STATUS.filter, on_health)
    for m in (*llms, *ttss):
        await m.service.start()
    router = Service("router", make("router"), announce=False)
    await router.start()
    for i in range(n):
        await router.publish(T.LLM_REQUEST, LlmRequest(text=f"q{i}"))
        await router.publish(T.TTS_SAY, TtsSay(text=f"s{i}"), site_id=SITES[i % len(SITES)])
    for _ in range(100):
        if (sum(len(m.requests) for m in llms) >= n and sum(len(m.sites) for m in ttss) >= n
                and health["llm-2"] > 1 and health["tts-2"] > 1):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # any duplicate would arrive by now
    for m in (*llms, *ttss):
        await m.service.stop()
    await router.stop()
    await watcher.stop()
    return llms, ttss, health


def check(llms: list[Member], ttss: list[Member], health: Counter[str], n: int = 60) -> None:
    handled = Counter(t for m in llms for t in m.requests)
    assert set(handled) == {f"q{i}" for i in range(n)}
    assert max(handled.values()) == 1, "a request reached two members"
    assert all(m.requests for m in llms), "one member got no work"
    for index, m in enumerate(ttss):
        assert m.sites and all(site_owner(s, 2) == index for s in m.sites)
    assert sum(len(m.sites) for m in ttss) == n
    assert health["llm"] and health["llm-2"] and health["tts-2"]


async def test_pool_on_a_real_broker_with_the_acl(mqtt_factory: Factory) -> None:
    check(*await run_pool(mqtt_factory))


async def test_pool_on_the_memory_bus(memory_factory: Factory) -> None:
    check(*await run_pool(memory_factory))


async def test_a_member_credential_writes_only_its_own_health(mqtt_factory: Factory) -> None:
    cli, member = mqtt_factory(T.CLI), mqtt_factory("llm-2")
    got: list[str] = []

    async def on(msg: Message) -> None:
        got.append(msg.topic)

    await cli.start()
    await member.start()
    await cli.subscribe(T.SYSTEM_HEARTBEAT.filter, on, qos=0)
    for service in ("llm", "llm-2", "tts"):
        await member.publish(T.SYSTEM_HEARTBEAT.topic(service=service), b"{}", qos=1)
    await asyncio.sleep(0.5)
    assert got == [T.SYSTEM_HEARTBEAT.topic(service="llm-2")]


async def test_a_shared_subscription_is_checked_against_the_acl(mqtt_factory: Factory) -> None:
    """Mosquitto checks the topic part of `$share/<group>/<topic>`: a credential without the read
    grant gets nothing through a shared subscription, one with it gets every message."""
    intruder, member, router = mqtt_factory("tts"), mqtt_factory("llm-2"), mqtt_factory("router")
    stolen: list[Message] = []
    served: list[Message] = []

    async def steal(msg: Message) -> None:
        stolen.append(msg)

    async def serve(msg: Message) -> None:
        served.append(msg)

    for bus in (intruder, member, router):
        await bus.start()
    await intruder.subscribe(shared_filter("x", T.LLM_REQUEST.topic()), steal)
    await member.subscribe(shared_filter("llm", T.LLM_REQUEST.topic()), serve)
    for i in range(5):
        await router.publish(T.LLM_REQUEST.topic(), f"r{i}".encode())
    for _ in range(50):
        if len(served) == 5:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert len(served) == 5 and stolen == []
