"""client_bus: one client-id scheme, a fresh id per call, and clients of one role side by side."""

from __future__ import annotations

import asyncio
import os
import re
import socket

import pytest

from tars.contracts import decode
from tars.contracts import topics as T
from tars.runtime.bus import Message, Will
from tars.runtime.connect import client_bus
from tars.runtime.mqtt import MqttBus
from tars.runtime.runner import make_service
from tars.runtime.settings import CoreSettings


def id_pattern(role: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(role)}-{re.escape(socket.gethostname())}-{os.getpid()}-[0-9a-f]{{6}}")


def test_every_call_makes_a_new_well_formed_id() -> None:
    ids = [client_bus("mqtt://127.0.0.1:1", "tars-ask").client_id for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(id_pattern("tars-ask").fullmatch(i) for i in ids), ids[:3]


@pytest.mark.parametrize("role", ["", "Ask", "tars ask", "tars/ask", "-ask", "ask#"])
def test_a_role_that_cannot_name_a_client_is_refused(role: str) -> None:
    with pytest.raises(ValueError, match="client role"):
        client_bus("mqtt://127.0.0.1:1", role)


def test_options_reach_the_bus() -> None:
    bus = client_bus("mqtt://u:p@broker.lan:1884", "tars-pub", namespace="ns/", connect_timeout=2.5,
                     session_expiry_s=30)
    assert (bus.address.host, bus.address.port, bus.address.username) == ("broker.lan", 1884, "u")
    assert (bus.namespace, bus.connect_timeout, bus.session_expiry_s, bus.will) == ("ns/", 2.5, 30, None)
    fixed = Will("lw/x", b"gone")
    assert client_bus("mqtt://127.0.0.1:1", "test", will=fixed).will is fixed


def test_a_will_function_gets_the_client_id() -> None:
    bus = client_bus("mqtt://127.0.0.1:1", "probe", will=lambda cid: Will(f"lw/{cid}", cid.encode()))
    assert bus.will is not None and bus.will.topic == f"lw/{bus.client_id}"
    assert bus.will.payload == bus.client_id.encode()


def test_a_worker_bus_is_its_pool_member_and_its_will_names_the_instance() -> None:
    service = make_service("llm", CoreSettings(mqtt_url="mqtt://127.0.0.1:1", pool_size=2, pool_index=1,
                                               namespace="n/"))
    bus = service.bus
    assert isinstance(bus, MqttBus) and bus.will is not None
    assert id_pattern("llm-2").fullmatch(bus.client_id)
    assert service.instance == bus.client_id
    will = bus.will
    assert will.topic == T.SYSTEM_STATUS.topic(service="llm-2")
    status = decode(will.current())
    assert status.source == bus.client_id and status.data["instance"] == bus.client_id
    assert status.data["state"] == "offline"


async def test_two_clients_of_one_role_stay_connected_side_by_side(mqtt_url: str, namespace: str) -> None:
    """Two `tars ask` at once: with one id the broker would drop the first for the second."""
    first, second = (client_bus(mqtt_url, "tars-ask", namespace=namespace, connect_timeout=5)
                     for _ in range(2))
    got: list[bytes] = []
    arrived = asyncio.Event()

    async def on_msg(msg: Message) -> None:
        got.append(msg.payload)
        arrived.set()

    await first.start()
    try:
        await first.subscribe("connect/check", on_msg)
        await second.start()
        try:
            await asyncio.sleep(0.5)  # a takeover would have dropped ``first`` by now
            await second.publish("connect/check", b"hello")
            await asyncio.wait_for(arrived.wait(), 10)
            assert got == [b"hello"]
            assert first.connected and second.connected
            assert first.reconnects == 0 and second.reconnects == 0
        finally:
            await second.stop()
    finally:
        await first.stop()
