"""Use a running stack, or start a private broker and the needed workers for one command."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.envelope import DecodeError
from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message
from tars.runtime.errors import BusError, ConfigError
from tars.stack.workers import installed_workers


@dataclass
class Stack:
    """What a command talks to: the broker URL, and whatever it had to start itself."""

    url: str
    namespace: str = ""
    started_broker: bool = False
    started_workers: list[str] = field(default_factory=list)
    ready_s: float | None = None


async def service_states(url: str, namespace: str = "", wait_s: float = 0.5) -> dict[str, str]:
    """Every service's retained status state (raises BusError if no broker answers)."""
    from tars.runtime.connect import client_bus

    bus = client_bus(url, "tars-probe", namespace=namespace, connect_timeout=2)
    states: dict[str, str] = {}

    async def on_status(msg: Message) -> None:
        try:
            state = decode(msg.payload).data.get("state")
        except DecodeError:
            return
        states[msg.topic.rsplit("/", 1)[-1]] = str(state)

    await bus.start()
    try:
        await bus.subscribe(T.SYSTEM_STATUS.filter, on_status)
        await asyncio.sleep(wait_s)
    finally:
        await bus.stop()
    return states


async def online_services(url: str, namespace: str = "", wait_s: float = 0.5) -> set[str]:
    """Services whose retained status is ``online`` (raises BusError if no broker answers)."""
    return {n for n, s in (await service_states(url, namespace, wait_s)).items() if s == "online"}


def supervised(url: str) -> bool:
    """True for the URL of a running `tars up` or the configured broker (TARS_MQTT_URL /
    config): their workers have a supervisor, so a command never starts copies of them."""
    from tars.cli.common import running_stack_url
    from tars.runtime.settings import CoreSettings, load_settings

    if url == running_stack_url() or url == os.environ.get("TARS_MQTT_URL"):
        return True
    try:
        default: str = CoreSettings.model_fields["mqtt_url"].default
        configured = load_settings(CoreSettings).mqtt_url
    except ConfigError:
        return False
    return url == configured and configured != default


@contextlib.asynccontextmanager
async def private_broker(namespace: str = "") -> AsyncIterator[tuple[LocalBroker, dict[str, str]]]:
    """A broker for one command, with generated passwords and the registry's ACL (never
    anonymous): yields it and the URL of every credential. Mosquitto is started and stopped in
    a thread: the event loop never waits on it."""
    from tars.stack.auth import ADMIN, Credentials

    with tempfile.TemporaryDirectory(prefix="tars-stack-") as tmp:
        creds = Credentials(Path(tmp)).load_or_create()
        passwd, admin, acl = creds.write_broker_files(namespace)
        broker = LocalBroker(workdir=Path(tmp), password_file=passwd, admin_password_file=admin,
                             acl_file=acl, bind_client_ids=True)
        await asyncio.to_thread(broker.start)
        try:
            urls = {u: creds.url(u, broker.host, broker.port) for u in creds.passwords if u != ADMIN}
            urls[ADMIN] = creds.url(ADMIN, "127.0.0.1", broker.admin_port)
            yield broker, urls
        finally:
            await asyncio.to_thread(broker.close)


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
                       log_dir: Path | None = None, quiet: bool = True,
                       supervised_wait_s: float = 30) -> AsyncIterator[Stack]:
    """Yield a Stack where every worker in ``needed`` is online.

    ``url`` empty (no broker configured, no running `tars up`): starts a private broker with
    generated credentials (never an anonymous one) and the needed workers, for this command only.
    The broker of a running `tars up` or the configured one: waits up to ``supervised_wait_s`` for
    needed workers that are not online (their supervisor restarts them) and never starts a copy.
    Any other broker (``--url``): starts the needed workers that have no status or are offline,
    waits for those still starting. Workers it started are stopped on exit.
    """
    if namespace is None:
        namespace = os.environ.get("TARS_NAMESPACE", "")
    async with contextlib.AsyncExitStack() as exits:
        urls: dict[str, str] = {}
        if not url:
            _broker, urls = await exits.enter_async_context(private_broker(namespace))
            url = urls["cli"]
            states: dict[str, str] = {}
        else:
            states = await service_states(url, namespace)
        stack = Stack(url, namespace, started_broker=bool(urls))
        if not urls and supervised(url):
            await _await_supervised(url, needed, namespace, states, supervised_wait_s)
            yield stack
            return
        starting = [n for n in needed if states.get(n) == "starting"]
        if starting:
            await wait_online(url, starting, namespace, timeout_s, {})
        missing = [n for n in needed if states.get(n) not in ("online", "starting")]
        async with _started(stack, missing, urls, timeout_s, log_dir, quiet):
            yield stack


async def _await_supervised(url: str, needed: list[str], namespace: str, states: dict[str, str],
                            wait_s: float) -> None:
    missing = [n for n in needed if states.get(n) != "online"]
    if not missing:
        return
    try:
        await wait_online(url, missing, namespace, wait_s, {})
    except BusError:
        raise BusError(f"{', '.join(missing)} not online in the running stack (its supervisor "
                       "restarts a worker that died; is it running with --without?)") from None


@contextlib.asynccontextmanager
async def _started(stack: Stack, missing: list[str], urls: dict[str, str], timeout_s: float,
                   log_dir: Path | None, quiet: bool) -> AsyncIterator[None]:
    """Start ``missing`` workers for the length of one command (each with its own credential
    on a private broker)."""
    url, namespace = stack.url, stack.namespace
    specs = {w.name: w for w in installed_workers()}
    absent = [n for n in missing if n not in specs]
    procs: dict[str, asyncio.subprocess.Process] = {}
    try:
        if absent:
            raise BusError(f"needed workers are not installed: {', '.join(absent)}")
        t0 = time.monotonic()
        for name in missing:
            env = {**os.environ, "TARS_MQTT_URL": urls.get(name, url), "TARS_NAMESPACE": namespace}
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
        yield
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
