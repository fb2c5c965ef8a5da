"""The Bus contract on MqttBus against a real Mosquitto."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import Awaitable, Callable

import pytest

from tars.runtime.bus import Will
from tars.testing.bus_contract import BusContract, Factory

DOOMED = textwrap.dedent("""
    import asyncio, sys
    from tars.runtime.bus import Will
    from tars.runtime.mqtt import MqttBus

    async def main() -> None:
        url, ns, topic, payload = sys.argv[1:5]
        bus = MqttBus(url, "doomed-" + str(__import__("os").getpid()), namespace=ns,
                      will=Will(topic, payload.encode()), keepalive=5)
        await bus.start()
        print("ready", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


class TestMqttBus(BusContract):
    @pytest.fixture
    def bus_factory(self, mqtt_bus_factory: Factory, mqtt_url: str, namespace: str) -> Factory:
        self._url, self._ns = mqtt_url, namespace
        return mqtt_bus_factory

    async def abrupt_client(self, factory: Factory, will: Will) -> Callable[[], Awaitable[None]]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", DOOMED, self._url, self._ns, will.topic, will.payload.decode(),
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        assert line.strip() == b"ready"

        async def kill() -> None:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()

        return kill
