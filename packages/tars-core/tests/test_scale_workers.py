"""A pool of two real worker processes (a tiny llm worker on the runner), supervised as
`tars up --scale llm=2` runs them, on a real Mosquitto with the generated ACL and member
credentials: every request answered exactly once, by both members, each online by its own name."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.llm import LlmRequest, LlmResponse
from tars.runtime import Inbound, Service
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message
from tars.runtime.mqtt import MqttBus
from tars.runtime.request import Requester
from tars.stack.access import pool_members
from tars.stack.auth import Credentials
from tars.stack.scale import expand, pool_env
from tars.stack.supervisor import Supervisor
from tars.stack.workers import WorkerSpec

pytestmark = [pytest.mark.broker, pytest.mark.e2e]

WORKER = textwrap.dedent('''
    """A tiny llm worker: answers each request with its pool member's name and its pid."""
    import os

    from tars.contracts import topics as T
    from tars.contracts.llm import LlmResponse
    from tars.runtime.runner import run_worker
    from tars.runtime.settings import CoreSettings


    async def build(settings, service):
        async def on_request(msg):
            text = f"{service.member} {os.getpid()} {msg.payload.text}"
            await service.reply(msg, T.LLM_RESPONSE, LlmResponse(text=text))

        service.handle(T.LLM_REQUEST, on_request)


    raise SystemExit(run_worker("llm", CoreSettings, build))
''')


async def _until(cond: object, timeout_s: float) -> None:
    for _ in range(int(timeout_s / 0.1)):
        if cond():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_two_worker_processes_split_the_requests(tmp_path: Path) -> None:
    scale = {"llm": 2}
    creds = Credentials(tmp_path / "broker").load_or_create((), pool_members(scale))
    passwd, admin, acl = creds.write_broker_files()
    (tmp_path / "tinyllm.py").write_text(WORKER)
    with LocalBroker(workdir=tmp_path / "broker", password_file=passwd, admin_password_file=admin,
                     acl_file=acl, bind_client_ids=True) as broker:
        workers = expand([WorkerSpec("llm", "tinyllm")], scale)
        extra = pool_env(workers, scale)
        env = {w.name: {"TARS_MQTT_URL": creds.url(w.name, "127.0.0.1", broker.port),
                        "TARS_HEARTBEAT_S": "0.5", **extra[w.name],
                        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])} for w in workers}
        sup = Supervisor(workers, env, Console(file=io.StringIO(), width=200), max_backoff=1.0)
        router = Service("router", MqttBus(creds.url("router", "127.0.0.1", broker.port), "router"),
                         announce=False)
        online: dict[str, str] = {}
        """member -> the instance that last said it is online"""

        async def on_status(msg: Inbound[Status]) -> None:
            name = msg.topic.rsplit("/", 1)[-1]
            if msg.payload.state == "online":
                online[name] = msg.payload.instance
            else:
                online.pop(name, None)

        async def on_beat(msg: Message) -> None:
            sup.heartbeat(msg.topic.rsplit("/", 1)[-1])

        router.handle(T.SYSTEM_STATUS, on_status)
        await router.start()
        await router.bus.subscribe(T.SYSTEM_HEARTBEAT.filter, on_beat, qos=0)
        ask: Requester[LlmResponse] = Requester(router, T.LLM_REQUEST, T.LLM_RESPONSE, timeout_s=10)
        await ask.start()
        await sup.start()
        try:
            await _until(lambda: {"llm", "llm-2"} <= set(online), 60)
            first = online["llm-2"]
            replies = await asyncio.gather(*(ask.request(LlmRequest(text=f"q{i}")) for i in range(40)))
            await asyncio.sleep(0.5)  # a second answer to any request would arrive by now
            by_member = Counter(r.payload.text.split()[0] for r in replies)
            assert [r.payload.text.split()[-1] for r in replies] == [f"q{i}" for i in range(40)]
            assert set(by_member) == {"llm", "llm-2"} and min(by_member.values()) >= 5, by_member
            pids = {r.payload.text.split()[1] for r in replies}
            assert len(pids) == 2
            # a member killed outright is restarted with its credential, takes its session back
            # and serves again; no request is answered twice meanwhile
            killed = sup.items["llm-2"].proc
            assert killed is not None
            os.kill(killed.pid, signal.SIGKILL)
            await _until(lambda: sup.items["llm-2"].restarts == 1, 20)
            await _until(lambda: online.get("llm-2", first) != first, 60)
            later = await asyncio.gather(*(ask.request(LlmRequest(text=f"r{i}")) for i in range(20)))
            assert [r.payload.text.split()[-1] for r in later] == [f"r{i}" for i in range(20)]
            assert {r.payload.text.split()[0] for r in later} == {"llm", "llm-2"}
        finally:
            await sup.stop()
            await ask.close()
            await router.stop()
