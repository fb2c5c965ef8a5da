"""``tars up``: a local broker (unless one is configured) and every installed worker."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tars.cli.common import RUNTIME_DIR, configured_url, fail, url_is_configured
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.envelope import DecodeError
from tars.runtime.broker import LocalBroker, free_port, port_open
from tars.runtime.bus import Message
from tars.runtime.errors import BusError
from tars.stack.auth import Credentials, stack_url_file
from tars.stack.supervisor import Supervisor
from tars.stack.workers import WorkerSpec, installed_workers, select


def up(
    only: Annotated[list[str] | None, typer.Option(help="Run only these workers")] = None,
    without: Annotated[list[str] | None, typer.Option(help="Do not run these workers")] = None,
    with_: Annotated[list[str] | None, typer.Option(
        "--with", help="Also run these optional workers (wyoming: the Home Assistant bridge)")] = None,
    url: Annotated[str | None, typer.Option(help="Use this broker instead of starting one")] = None,
    runtime_dir: Annotated[Path, typer.Option(help="Where the local broker keeps its files")] = RUNTIME_DIR,
) -> None:
    """Start the broker and the workers, supervised; Ctrl-C stops everything."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        workers = select(installed_workers(), only or [], without or [], with_ or [])
    except ValueError as exc:
        raise fail(str(exc)) from None
    broker: LocalBroker | None = None
    urls: dict[str, str] = {}
    if url or url_is_configured():
        target = configured_url(url)
        console.print(f"using the configured broker {target.split('@')[-1]}")
    else:
        broker, urls = _start_local_broker(runtime_dir, console)
        target = urls["cli"]
    try:
        asyncio.run(_run(target, workers, console, urls))
    except KeyboardInterrupt:
        pass
    finally:
        if broker is not None:
            stack_url_file(runtime_dir).unlink(missing_ok=True)
            broker.close()
            console.print("stopped mosquitto")


def _start_local_broker(runtime_dir: Path, console: Console) -> tuple[LocalBroker, dict[str, str]]:
    """Mosquitto on loopback with generated passwords and per-service ACLs (nothing anonymous)."""
    workdir = runtime_dir.resolve() / "mosquitto"
    creds = Credentials(workdir).load_or_create()
    try:
        passwd, acl = creds.write_broker_files()
        port = 1883 if not port_open("127.0.0.1", 1883) else free_port()
        broker = LocalBroker(port=port, workdir=workdir, password_file=passwd, acl_file=acl).start()
    except BusError as exc:
        raise fail(str(exc), 3) from None
    urls = {user: creds.url(user, broker.host, broker.port) for user in creds.passwords}
    url_file = stack_url_file(runtime_dir)
    url_file.write_text(urls["cli"] + "\n")
    os.chmod(url_file, 0o600)
    console.print(f"started mosquitto on {broker.url} (loopback only, password auth + ACL per service; "
                  f"files in {runtime_dir}/mosquitto)")
    return broker, urls


async def _run(url: str, workers: list[WorkerSpec], console: Console, urls: dict[str, str]) -> None:
    from tars.runtime.mqtt import MqttBus

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if not workers:
        console.print("no workers are installed yet; the broker is running (Ctrl-C to stop)")
        await stop.wait()
        return
    names = [w.name for w in workers]
    console.print(f"starting workers: {', '.join(names)}")
    online: set[str] = set()
    announced = asyncio.Event()
    watcher = MqttBus(url, f"tars-up-{os.getpid()}", connect_timeout=10)

    async def on_status(msg: Message) -> None:
        try:
            env = decode(msg.payload)
        except DecodeError:
            return
        service = msg.topic.rsplit("/", 1)[-1]
        state = env.data.get("state")
        if state == "online":
            online.add(service)
        elif state == "offline":
            online.discard(service)
        if set(names) <= online and not announced.is_set():
            announced.set()
            console.print(f"[bold green]tars is ready[/bold green]: {', '.join(names)} online. "
                          "Say 'hey jarvis' (or run `tars ask \"what time is it\"`); Ctrl-C stops.")

    await watcher.start()
    await watcher.subscribe(T.SYSTEM_STATUS.filter, on_status)
    env = {w.name: {"TARS_MQTT_URL": urls.get(w.name, url)} for w in workers}
    sup = Supervisor(workers, env, console)
    await sup.start()
    try:
        await stop.wait()
    finally:
        console.print("stopping workers ...")
        await sup.stop()
        await watcher.stop()
