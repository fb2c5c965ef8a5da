"""Faults on a real Mosquitto: the broker restarts mid-request; a killed worker leaves a will."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import textwrap

import pytest

from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.memory import MemoryHit, MemoryQuery, MemoryResults
from tars.runtime import Inbound, Requester, Service
from tars.runtime.broker import LocalBroker
from tars.runtime.errors import RequestTimeout
from tars.runtime.mqtt import MqttBus
from tars.runtime.service import offline_will
from tars.testing.bus_contract import Collector

pytestmark = pytest.mark.broker


def mqtt_service(name: str, url: str, ns: str) -> Service:
    bus = MqttBus(url, f"{name}-{os.getpid()}", namespace=ns, will=offline_will(name, name),
                  reconnect_min=0.1, reconnect_max=0.5, keepalive=5)
    return Service(name, bus)


async def test_broker_restart_during_pending_request(namespace: str) -> None:
    broker = LocalBroker().start()
    try:
        server = mqtt_service("memory", broker.url, namespace)

        async def on_query(msg: Inbound[MemoryQuery]) -> None:
            hit = MemoryHit(id=1, text=msg.payload.text, score=1.0, role="fact", ts=0.0)
            await server.reply(msg, T.MEMORY_RESULTS, MemoryResults(hits=[hit]))

        server.handle(T.MEMORY_QUERY, on_query)
        await server.start()
        client = mqtt_service("llm", broker.url, namespace)
        await client.start()
        req: Requester[MemoryResults] = Requester(client, T.MEMORY_QUERY, T.MEMORY_RESULTS)
        await req.start()
        assert (await req.request(MemoryQuery(text="before"))).payload.hits[0].text == "before"

        broker.stop()
        pending = asyncio.create_task(req.request(MemoryQuery(text="during"), timeout_s=3.0))
        await asyncio.sleep(0.5)
        broker.start()
        try:
            reply = await pending
            assert reply.payload.hits[0].text == "during"
        except RequestTimeout:
            pass  # a clean timeout is an accepted outcome
        assert req.pending == {}

        for _ in range(50):  # both sides resubscribed: serving again
            if client.bus.connected and server.bus.connected:
                break
            await asyncio.sleep(0.1)
        reply = await req.request(MemoryQuery(text="after"), timeout_s=5.0)
        assert reply.payload.hits[0].text == "after"
        assert isinstance(client.bus, MqttBus) and client.bus.reconnects >= 1
        await req.close()
        await client.stop()
        await server.stop()
    finally:
        broker.close()


WORKER = textwrap.dedent("""
    import asyncio, sys
    from tars.runtime.mqtt import MqttBus
    from tars.runtime.service import Service, offline_will

    async def main() -> None:
        url, ns = sys.argv[1:3]
        bus = MqttBus(url, "victim-1", namespace=ns, will=offline_will("victim", "victim-1"),
                      keepalive=5)
        svc = Service("victim", bus, instance="victim-1")
        await svc.start()
        print("ready", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


async def test_killed_worker_goes_offline_by_last_will(mqtt_url: str, namespace: str) -> None:
    watcher = MqttBus(mqtt_url, f"watch-{os.getpid()}", namespace=namespace)
    await watcher.start()
    seen = Collector()
    await watcher.subscribe(T.SYSTEM_STATUS.topic(service="victim"), seen)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", WORKER, mqtt_url, namespace,
                                                stdout=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"ready"
        await seen.wait_for(2)
        states = [decode(m.payload).payload(Status).state for m in seen.messages]
        assert states == ["starting", "online"]
        os.kill(proc.pid, signal.SIGKILL)
        await seen.wait_for(3, timeout=30)
        status = decode(seen.messages[-1].payload).payload(Status)
        assert status.state == "offline" and status.instance == "victim-1"
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        await watcher.stop()
