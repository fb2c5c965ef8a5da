"""A satellite Mosquitto bridged to a hub Mosquitto (two real brokers on loopback ports): what
crosses the bridge is exactly what the hub credential's ACL grants, in both directions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message
from tars.runtime.errors import ConfigError
from tars.runtime.mqtt import MqttBus
from tars.stack.auth import Credentials
from tars.stack.bridge import bridge_config, bridge_topics

pytestmark = pytest.mark.broker


def test_bridge_topics_are_the_credentials_grants() -> None:
    topics = {flt: (d, q) for flt, d, q in bridge_topics("satellite-kitchen")}
    assert topics[T.AUDIO_MIC.topic(site="kitchen")] == ("out", 0)
    assert topics[T.AUDIO_OUT.topic(site="kitchen")] == ("in", 0)
    assert not any("hall" in f for f in topics) and T.LLM_REQUEST.topic() not in topics
    assert {d for d, _ in topics.values()} <= {"in", "out", "both"}
    lines = bridge_config("mqtt://satellite-kitchen:pw@hub.lan:1884", name="t")
    assert lines[:3] == ["connection t", "address hub.lan:1884", "remote_username satellite-kitchen"]
    with pytest.raises(ConfigError):
        bridge_config("mqtt://hub.lan:1884")
    with pytest.raises(ConfigError):
        bridge_config("mqtt://cli:pw@hub.lan:1884")


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[LocalBroker, LocalBroker, Credentials]]:
    creds = Credentials(tmp_path / "hub").load_or_create(("kitchen", "hall"))
    passwd, admin, acl = creds.write_broker_files()
    hub = LocalBroker(workdir=tmp_path / "hub", password_file=passwd, admin_password_file=admin,
                      acl_file=acl, bind_client_ids=True).start()
    try:
        bridge = bridge_config(creds.url("satellite-kitchen", "127.0.0.1", hub.port), name="kitchen")
        satellite = LocalBroker(workdir=tmp_path / "sat", extra=tuple(bridge)).start()
        try:
            yield hub, satellite, creds
        finally:
            satellite.close()
    finally:
        hub.close()


class Inbox:
    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.got: set[tuple[str, bytes]] = set()

    async def __call__(self, msg: Message) -> None:
        self.topics.add(msg.topic)
        self.got.add((msg.topic, msg.payload))

    def crossed(self, payload: bytes) -> set[str]:
        return {t for t, p in self.got if p == payload}


async def test_the_hub_acl_holds_across_the_bridge(
        brokers: tuple[LocalBroker, LocalBroker, Credentials]) -> None:
    hub, satellite, creds = brokers
    hub_cli = MqttBus(creds.url(T.CLI, "127.0.0.1", hub.admin_port), "cli-test", connect_timeout=5)
    local = MqttBus(f"mqtt://127.0.0.1:{satellite.port}", f"local-{uuid.uuid4().hex[:6]}",
                    connect_timeout=5)
    at_hub, at_satellite = Inbox(), Inbox()
    await hub_cli.start()
    await local.start()
    try:
        await hub_cli.subscribe("tars/#", at_hub)
        await local.subscribe("tars/#", at_satellite)
        mine = T.AUDIO_MIC.topic(site="kitchen")
        for _ in range(100):  # the bridge connects within a few seconds
            await local.publish(mine, b"probe", qos=0)
            if mine in at_hub.topics:
                break
            await asyncio.sleep(0.1)
        assert mine in at_hub.topics, "the bridge never connected"
        outgoing = [T.AUDIO_MIC.topic(site="hall"), T.LLM_REQUEST.topic(), T.WAKE_EVENT.topic(),
                    T.SYSTEM_STATUS.topic(service="satellite-kitchen"),
                    T.SYSTEM_STATUS.topic(service="llm")]
        incoming = [T.AUDIO_OUT.topic(site="kitchen"), T.AUDIO_OUT.topic(site="hall"),
                    T.LLM_REQUEST.topic(), T.TTS_STATUS.topic()]
        for topic in outgoing:
            await local.publish(topic, b"from-satellite", qos=1)
        for topic in incoming:
            await hub_cli.publish(topic, b"from-hub", qos=1)
        await asyncio.sleep(1.5)
    finally:
        await local.stop()
        await hub_cli.stop()
    # hub side: the satellite's own status only (and its own site's microphone, above)
    assert at_hub.crossed(b"from-satellite") == {T.SYSTEM_STATUS.topic(service="satellite-kitchen")}
    # satellite side: its own speaker only
    assert at_satellite.crossed(b"from-hub") == {T.AUDIO_OUT.topic(site="kitchen")}
