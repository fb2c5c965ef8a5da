"""The supervisor against real worker processes: a worker flooding huge log lines keeps serving,
a silent (stopped) worker is killed and restarted, and every last will reaches its watchers."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.llm import LlmRequest, LlmResponse
from tars.runtime.bus import Message
from tars.runtime.mqtt import MqttBus
from tars.runtime.request import Requester
from tars.runtime.service import Inbound, Service
from tars.stack.supervisor import MAX_LINE, Supervisor
from tars.stack.workers import WorkerSpec

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

WORKER = textwrap.dedent('''
    """A tiny worker: answers llm requests, logging a 200 kB line (and writing a 300 kB raw line)
    for each one."""
    import logging
    import sys

    from tars.contracts import topics as T
    from tars.contracts.llm import LlmResponse
    from tars.runtime.runner import run_worker
    from tars.runtime.settings import CoreSettings

    log = logging.getLogger("flood")


    async def build(settings, service):
        async def on_request(msg):
            log.warning("%s", "x" * 200_000)
            sys.stderr.write("y" * 300_000 + "\\n")
            sys.stderr.flush()
            await service.reply(msg, T.LLM_RESPONSE, LlmResponse(text="pong " + msg.payload.text))

        service.handle(T.LLM_REQUEST, on_request)


    raise SystemExit(run_worker("llm", CoreSettings, build))
''')


@dataclass
class Rig:
    sup: Supervisor
    out: io.StringIO
    client: Service
    ask: Requester[LlmResponse]
    statuses: list[Status]

    def proc_pid(self) -> int:
        proc = self.sup.items["llm"].proc
        assert proc is not None and proc.returncode is None
        return proc.pid


async def _until(cond: Any, timeout_s: float) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if cond():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
async def rig(tmp_path: Path, mqtt_url: str, namespace: str) -> AsyncIterator[Rig]:
    (tmp_path / "floodworker.py").write_text(WORKER)
    env = {"llm": {"TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace, "TARS_HEARTBEAT_S": "0.5",
                   "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}}
    out = io.StringIO()
    sup = Supervisor([WorkerSpec("llm", "floodworker")], env, Console(file=out, width=200, soft_wrap=True),
                     max_backoff=1.0, silence_s=3.0)
    client = Service("probe", MqttBus(mqtt_url, f"probe-{os.getpid()}", namespace=namespace),
                     announce=False)
    statuses: list[Status] = []

    async def on_status(msg: Inbound[Status]) -> None:
        statuses.append(msg.payload)

    async def on_beat(msg: Message) -> None:
        sup.heartbeat(msg.topic.rsplit("/", 1)[-1])

    client.handle(T.SYSTEM_STATUS, on_status, topic=T.SYSTEM_STATUS.topic(service="llm"))
    await client.start()
    await client.bus.subscribe(T.SYSTEM_HEARTBEAT.filter, on_beat, qos=0)
    ask: Requester[LlmResponse] = Requester(client, T.LLM_REQUEST, T.LLM_RESPONSE, timeout_s=15)
    await ask.start()
    await sup.start()
    rig = Rig(sup, out, client, ask, statuses)
    await _until(lambda: any(s.state == "online" for s in statuses), 60)
    try:
        yield rig
    finally:
        await sup.stop()
        await ask.close()
        await client.stop()


async def test_a_worker_flooding_long_log_lines_keeps_serving(rig: Rig) -> None:
    for i in range(20):
        reply = await rig.ask.request(LlmRequest(text=str(i)))
        assert reply.payload.text == f"pong {i}"
    assert rig.sup.items["llm"].restarts == 0
    lines = rig.out.getvalue().splitlines()
    assert sum(ln.endswith("y ...[cut]") for ln in lines) == 20  # cut by the supervisor's reader
    assert sum("more characters cut]" in ln for ln in lines) == 20  # cut by the worker's logging
    assert max(len(ln) for ln in lines) < MAX_LINE + 400
    assert not any("y" * 100 in ln and "x" * 100 in ln for ln in lines)


async def test_a_silent_worker_is_killed_and_restarted(rig: Rig) -> None:
    first = rig.proc_pid()
    await _until(lambda: rig.sup.items["llm"].last_beat is not None, 10)  # it was beating
    os.kill(first, signal.SIGSTOP)  # alive, but no heartbeat, no answer
    await _until(lambda: rig.sup.silenced == 1, 20)
    await _until(lambda: rig.sup.items["llm"].restarts == 1, 20)
    await _until(lambda: sum(s.state == "online" for s in rig.statuses) >= 2, 60)
    assert rig.proc_pid() != first
    reply = await rig.ask.request(LlmRequest(text="back"))
    assert reply.payload.text == "pong back"


async def test_every_last_will_reaches_its_watchers(rig: Rig, mqtt_url: str, namespace: str) -> None:
    """One worker process loses its connection three times (its session taken over, as a broker
    drop would): each loss publishes its last will, and the watcher's Service sees all three."""
    instance = next(s.instance for s in rig.statuses if s.state == "online")
    for n in range(1, 4):
        before = sum(s.state == "online" for s in rig.statuses)
        thief = MqttBus(mqtt_url, instance, namespace=namespace, connect_timeout=5)
        await thief.start()
        await thief.stop()
        await _until(lambda n=n: sum(s.reason == "connection lost" for s in rig.statuses) == n, 15)
        await _until(lambda b=before: sum(s.state == "online" for s in rig.statuses) > b, 30)
    wills = [s for s in rig.statuses if s.reason == "connection lost"]
    assert len(wills) == 3 and {s.instance for s in wills} == {instance}
    assert rig.sup.items["llm"].restarts == 0  # the same process every time
    assert rig.client.counters.duplicates == 0
