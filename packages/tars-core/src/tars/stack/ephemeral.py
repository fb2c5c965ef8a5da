"""Use a running stack, or start a broker and the needed workers for the length of one command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.envelope import DecodeError
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message
from tars.runtime.errors import BusError
from tars.stack.workers import installed_workers


@dataclass
class Stack:
    """What a command talks to: the broker URL, and whatever it had to start itself."""

    url: str
    namespace: str = ""
    started_broker: bool = False
    started_workers: list[str] = field(default_factory=list)
    ready_s: float | None = None


async def online_services(url: str, namespace: str = "", wait_s: float = 0.5) -> set[str]:
    """Services whose retained status is ``online`` (raises BusError if no broker answers)."""
    from tars.runtime.mqtt import MqttBus

    bus = MqttBus(url, f"tars-probe-{os.getpid()}-{time.monotonic_ns() % 100000}",
                  namespace=namespace, connect_timeout=2)
    online: set[str] = set()

    async def on_status(msg: Message) -> None:
        try:
            state = decode(msg.payload).data.get("state")
        except DecodeError:
            return
        name = msg.topic.rsplit("/", 1)[-1]
        (online.add if state == "online" else online.discard)(name)

    await bus.start()
    try:
        await bus.subscribe(T.SYSTEM_STATUS.filter, on_status)
        await asyncio.sleep(wait_s)
    finally:
        await bus.stop()
    return online


async def wait_online(url: str, names: list[str], namespace: str, timeout_s: float,
                      procs: dict[str, asyncio.subprocess.Process]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.returncode is not None:
                raise BusError(f"the {name} worker exited with {proc.returncode} while starting")
        if set(names) <= await online_services(url, namespace, 0.3):
            return
        await asyncio.sleep(0.2)
    raise BusError(f"workers not ready within {timeout_s:.0f}s: {', '.join(names)}")


@contextlib.asynccontextmanager
async def ensure_stack(needed: list[str], url: str, *, namespace: str | None = None, timeout_s: float = 180,
                       log_dir: Path | None = None, quiet: bool = True) -> AsyncIterator[Stack]:
    """Yield a Stack where every worker in ``needed`` is online.

    Uses the broker at ``url`` when it answers; otherwise starts one on a free loopback port.
    Workers that are not online are started as subprocesses and stopped on exit.
    """
    if namespace is None:
        namespace = os.environ.get("TARS_NAMESPACE", "")
    broker: LocalBroker | None = None
    try:
        online = await online_services(url, namespace)
    except BusError:
        broker = LocalBroker().start()
        url, online = broker.url, set()
    stack = Stack(url, namespace, started_broker=broker is not None)
    specs = {w.name: w for w in installed_workers()}
    missing = [n for n in needed if n not in online]
    absent = [n for n in missing if n not in specs]
    procs: dict[str, asyncio.subprocess.Process] = {}
    try:
        if absent:
            raise BusError(f"needed workers are not installed: {', '.join(absent)}")
        env = {**os.environ, "TARS_MQTT_URL": url, "TARS_NAMESPACE": namespace}
        t0 = time.monotonic()
        for name in missing:
            out = (log_dir / f"{name}.log").open("ab") if log_dir else (
                subprocess.DEVNULL if quiet else None)
            procs[name] = await asyncio.create_subprocess_exec(
                *specs[name].argv, env=env, stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                stdin=subprocess.DEVNULL, start_new_session=True)
            stack.started_workers.append(name)
        if missing:
            if not quiet:
                print(f"starting {', '.join(missing)} for this command ...", file=sys.stderr)
            await wait_online(url, missing, namespace, timeout_s, procs)
            stack.ready_s = time.monotonic() - t0
        yield stack
    finally:
        for proc in procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if broker is not None:
            broker.close()
