"""The tool worker as a real subprocess on a real broker, with an MCP server from its config."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tars.contracts import topics as T
from tars.contracts.errors import ErrorEvent
from tars.contracts.health import Status
from tars.contracts.tools import ToolCall, ToolRegistry, ToolResult
from tars.contracts.tts import TtsSay
from tars.runtime import Inbound, Requester, Service
from tars.runtime.connect import client_bus

pytestmark = [pytest.mark.broker, pytest.mark.e2e]
SERVER = Path(__file__).with_name("tiny_mcp_server.py")


def _config(tmp: Path) -> Path:
    path = tmp / "tars.toml"
    path.write_text(
        "[tools]\n"
        f"timers_db = {json.dumps(str(tmp / 'timers.sqlite'))}\n"
        "[[tools.mcp_servers]]\n"
        'name = "tiny"\n'
        f"command = {json.dumps(sys.executable)}\n"
        f"args = [{json.dumps(str(SERVER))}]\n"
        'allow_tools = ["add", "pid"]\n'
        "ping_interval_s = 0\n"
        "[tools.mcp_servers.backoff]\n"
        "initial_s = 0.2\n"
    )
    return path


@pytest.fixture
def worker(mqtt_url: str, namespace: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
           "TARS_CONFIG": str(_config(tmp_path)), "TARS_SITE_ID": "hall"}
    proc = subprocess.Popen([sys.executable, "-m", "tars_tools"], env=env,
                            stdin=subprocess.DEVNULL)
    yield proc
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


class Client:
    def __init__(self, url: str, namespace: str) -> None:
        self.service = Service("client", client_bus(url, "client", namespace=namespace))
        self.calls: Requester[ToolResult] = Requester(self.service, T.TOOLS_CALL, T.TOOLS_RESULT,
                                                      timeout_s=10)
        self.registries: dict[str, ToolRegistry] = {}
        self.seen: list[tuple[str, int]] = []
        self.changed = asyncio.Event()
        self.said: asyncio.Queue[Inbound[TtsSay]] = asyncio.Queue()
        self.errors: asyncio.Queue[ErrorEvent] = asyncio.Queue()
        self.online = asyncio.Event()

        async def on_registry(msg: Inbound[ToolRegistry]) -> None:
            self.registries[msg.payload.provider] = msg.payload
            self.seen.append((msg.payload.provider, len(msg.payload.tools)))
            self.changed.set()

        async def on_say(msg: Inbound[TtsSay]) -> None:
            await self.said.put(msg)

        async def on_error(msg: Inbound[ErrorEvent]) -> None:
            await self.errors.put(msg.payload)

        async def on_status(msg: Inbound[Status]) -> None:
            if msg.payload.state == "online":
                self.online.set()

        self.service.handle(T.TOOLS_REGISTRY, on_registry)
        self.service.handle(T.TTS_SAY, on_say)
        self.service.handle(T.SYSTEM_ERROR, on_error)
        self.service.handle(T.SYSTEM_STATUS, on_status, topic=T.SYSTEM_STATUS.topic(service="tools"))

    async def wait_tools(self, provider: str, present: bool, timeout: float = 30,
                         since: int = 0) -> None:
        async with asyncio.timeout(timeout):
            while not self._seen(provider, present, since):
                self.changed.clear()
                await self.changed.wait()

    def _seen(self, provider: str, present: bool, since: int) -> bool:
        """present: tools listed now; not present: an empty registry was published since."""
        counts = [n for p, n in self.seen[since:] if p == provider]
        return bool(counts and counts[-1]) if present else 0 in counts

    async def call(self, name: str, **arguments: object) -> ToolResult:
        reply = await self.calls.request(ToolCall(name=name, arguments=arguments), site_id="hall")
        return reply.payload


@pytest.fixture
async def client(mqtt_url: str, namespace: str) -> AsyncIterator[Client]:
    c = Client(mqtt_url, namespace)
    await c.service.start()
    yield c
    await c.calls.close()
    await c.service.stop()


async def test_worker_calls_tools_fires_timers_and_supervises_mcp(
        worker: subprocess.Popen[bytes], client: Client) -> None:
    await asyncio.wait_for(client.online.wait(), 30)
    await client.wait_tools("mcp-tiny", present=True)
    assert {t.name for t in client.registries["mcp-tiny"].tools} == {"tiny__add", "tiny__pid"}
    assert "calculate" in {t.name for t in client.registries["builtin"].tools}

    calc = await client.call("calculate", expression="2 ** 10 - 24")
    assert calc.ok and calc.content == "2 ** 10 - 24 = 1000"
    added = await client.call("tiny__add", a=20, b=22)
    assert added.ok and added.content == "42"
    refused = await client.call("tiny__secret")
    assert not refused.ok and "UnknownToolError" in (refused.error or "")

    timer = await client.call("set_timer", seconds=1, label="tea")
    assert timer.ok
    said = await asyncio.wait_for(client.said.get(), 10)
    assert said.payload.text == "Your tea timer is done." and said.site_id == "hall"

    pid = int((await client.call("tiny__pid")).content)
    mark = len(client.seen)
    os.kill(pid, signal.SIGKILL)
    error = await asyncio.wait_for(client.errors.get(), 15)
    assert error.kind == "dependency" and "tiny" in error.reason
    await client.wait_tools("mcp-tiny", present=False, since=mark)
    await client.wait_tools("mcp-tiny", present=True, since=mark)
    again = await client.call("tiny__pid")
    assert again.ok and int(again.content) != pid
