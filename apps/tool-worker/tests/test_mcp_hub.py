"""The MCP hub against a real MCP stdio server subprocess (tiny_mcp_server.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tars_tools.errors import (
    ToolExecutionError,
    ToolTimeoutError,
    ToolUnavailableError,
    UnknownToolError,
)
from tars_tools.mcp_config import BackoffPolicy, McpServerConfig
from tars_tools.mcp_hub import McpToolHub, ServerEvent, ServerEventKind
from tars_tools.registry import ToolRegistry
from tars_tools.toolbox import Toolbox

SERVER = Path(__file__).with_name("tiny_mcp_server.py")
pytestmark = pytest.mark.asyncio(loop_scope="module")
FAST_BACKOFF = BackoffPolicy(initial_s=0.2, max_s=1.0, jitter=0.1, reset_after_s=0.5)


class Events:
    def __init__(self) -> None:
        self.items: list[ServerEvent] = []
        self.changed = asyncio.Event()

    async def __call__(self, event: ServerEvent) -> None:
        self.items.append(event)
        self.changed.set()

    async def wait_for(self, kind: ServerEventKind, count: int, timeout: float = 20.0) -> None:
        async with asyncio.timeout(timeout):
            while sum(e.kind is kind for e in self.items) < count:
                self.changed.clear()
                await self.changed.wait()


def tiny(name: str = "tiny", **overrides: object) -> McpServerConfig:
    fields: dict[str, object] = {
        "name": name, "command": sys.executable, "args": [str(SERVER)],
        "allow_tools": ["add", "boom", "pid", "slow"], "call_timeout_s": 5.0,
        "ping_interval_s": 0, "backoff": FAST_BACKOFF}
    fields.update(overrides)
    return McpServerConfig.model_validate(fields)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hub_and_events() -> AsyncIterator[tuple[McpToolHub, Events]]:
    events = Events()
    hub = McpToolHub([tiny()], on_event=events)
    await hub.start()
    await hub.wait_ready(30)
    yield hub, events
    await hub.stop()


async def test_list_respects_allowlist_and_qualifies_names(
        hub_and_events: tuple[McpToolHub, Events]) -> None:
    hub, events = hub_and_events
    names = [spec.name for spec in hub.specs()]
    assert names == ["tiny__add", "tiny__boom", "tiny__pid", "tiny__slow"]
    add = next(s for s in hub.specs() if s.name == "tiny__add")
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert add.description == "Add two integers."
    assert events.items[0].kind is ServerEventKind.UP
    assert events.items[0].detail == "add, boom, pid, slow"


async def test_call_and_errors(hub_and_events: tuple[McpToolHub, Events]) -> None:
    hub, _ = hub_and_events
    assert (await hub.call("tiny__add", {"a": 2, "b": 40})).text == "42"
    with pytest.raises(ToolExecutionError, match="boom: on purpose"):
        await hub.call("tiny__boom", {"reason": "on purpose"})
    with pytest.raises(UnknownToolError):
        await hub.call("tiny__secret", {})  # exists on the server, not allowed
    with pytest.raises(UnknownToolError):
        await hub.call("other__add", {"a": 1, "b": 2})
    with pytest.raises(ToolExecutionError):
        await hub.call("tiny__add", {"a": "not a number", "b": 1})
    with pytest.raises(ToolTimeoutError):
        await hub.call("tiny__slow", {"seconds": 5}, timeout_s=0.3)
    assert (await hub.call("tiny__add", {"a": 1, "b": 1})).text == "2"  # still usable


async def test_toolbox_dispatches_both_kinds(hub_and_events: tuple[McpToolHub, Events]) -> None:
    hub, _ = hub_and_events
    toolbox = Toolbox(ToolRegistry(), hub)
    assert [s.name for s in toolbox.specs()][:1] == ["tiny__add"]
    assert (await toolbox.call("tiny__add", {"a": 3, "b": 4})).text == "7"
    with pytest.raises(UnknownToolError):
        await toolbox.call("add", {"a": 3, "b": 4})


async def test_killed_server_is_reported_and_restarted(
        hub_and_events: tuple[McpToolHub, Events]) -> None:
    hub, events = hub_and_events
    events.items.clear()
    first_pid = int((await hub.call("tiny__pid", {})).text)
    os.kill(first_pid, signal.SIGKILL)
    await events.wait_for(ServerEventKind.DOWN, 1)
    down = next(e for e in events.items if e.kind is ServerEventKind.DOWN)
    assert down.server == "tiny" and down.retry_in_s is not None
    assert 0.18 <= down.retry_in_s <= 0.22
    with pytest.raises(ToolUnavailableError):
        await hub.call("tiny__add", {"a": 1, "b": 2})
    await events.wait_for(ServerEventKind.UP, 1)
    second_pid = int((await hub.call("tiny__pid", {})).text)
    assert second_pid != first_pid
    assert (await hub.call("tiny__add", {"a": 20, "b": 22})).text == "42"


async def test_a_server_that_cannot_start_backs_off() -> None:
    events = Events()
    broken = tiny("broken", command=sys.executable, args=["-c", "import sys; sys.exit(3)"],
                  backoff=BackoffPolicy(initial_s=0.05, max_s=0.4, jitter=0.0))
    hub = McpToolHub([broken], on_event=events)
    await hub.start()
    await events.wait_for(ServerEventKind.DOWN, 4)
    await hub.stop()
    delays = [e.retry_in_s for e in events.items][:4]
    assert delays == pytest.approx([0.05, 0.1, 0.2, 0.4])
    assert not hub.connected("broken")
    assert hub.specs() == []
