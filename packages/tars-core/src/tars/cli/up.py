"""``tars up``: a local broker (unless one is configured) and every installed worker."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tars.cli.common import RUNTIME_DIR, configured_url, fail, url_is_configured
from tars.contracts import topics as T
from tars.runtime.broker import LocalBroker, free_port, port_open
from tars.runtime.bus import Message
from tars.runtime.errors import BusError, ConfigError
from tars.runtime.peers import PeerEvent, Peers
from tars.runtime.service import Service
from tars.runtime.settings import CoreSettings, load_settings
from tars.stack.access import pool_members, satellite_user
from tars.stack.auth import ADMIN, Credentials, gateway_token_file, load_or_create_token, stack_url_file
from tars.stack.bridge import bridge_config
from tars.stack.scale import expand, parse_scale, pool_env
from tars.stack.supervisor import Supervisor
from tars.stack.tls import Pki
from tars.stack.workers import WorkerSpec, installed_workers, select


def up(
    only: Annotated[list[str] | None, typer.Option(help="Run only these workers")] = None,
    without: Annotated[list[str] | None, typer.Option(help="Do not run these workers")] = None,
    with_: Annotated[list[str] | None, typer.Option(
        "--with", help="Also run these optional workers (wyoming: the Home Assistant bridge)")] = None,
    url: Annotated[str | None, typer.Option(help="Use this broker instead of starting one")] = None,
    runtime_dir: Annotated[Path, typer.Option(help="Where the local broker keeps its files")] = RUNTIME_DIR,
    tls: Annotated[bool, typer.Option(help="TLS on the broker (generated CA and per-service certs)")] = False,
    require_cert: Annotated[bool, typer.Option(
        help="With --tls: every client must present a certificate signed by the stack's CA")] = False,
    host: Annotated[str, typer.Option(
        help="Where the service listener binds (0.0.0.0 for satellites on the LAN); "
             "the operator listener is always loopback")] = "127.0.0.1",
    satellite: Annotated[list[str] | None, typer.Option(
        help="Create a credential for this satellite site (repeatable); its URL is written to "
             "<runtime-dir>/satellite-<site>.url")] = None,
    scale: Annotated[str | None, typer.Option(
        help="Worker pools, ROLE=N[,ROLE=N...] (e.g. llm=2,stt=2): N processes of the role share "
             "its requests (see docs/scale.md)")] = None,
    bridge_to: Annotated[str | None, typer.Option(
        help="Bridge the local broker to a hub broker, mqtt[s]://USER:PASSWORD@HOST:PORT; the "
             "topics bridged are the hub credential's grants")] = None,
) -> None:
    """Start the broker and the workers, supervised; Ctrl-C stops everything."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        pools = parse_scale(scale)
        workers = expand(select(installed_workers(), only or [], without or [], with_ or []), pools)
    except ValueError as exc:
        raise fail(str(exc)) from None
    broker: LocalBroker | None = None
    urls: dict[str, str] = {}
    if url or url_is_configured():
        target = configured_url(url)
        console.print(f"using the configured broker {target.split('@')[-1]}")
    else:
        options = BrokerOptions(tls, require_cert, host, tuple(satellite or ()),
                                tuple(pool_members(pools)), bridge_to)
        broker, urls = _start_local_broker(runtime_dir, console, options)
        target = urls["cli"]
    if bridge_to and broker is None:
        raise fail("--bridge-to bridges the broker `tars up` starts; with --url / TARS_MQTT_URL "
                   "configure the bridge on that broker")
    _gateway_token(runtime_dir, workers, console)
    try:
        asyncio.run(_run(target, workers, console, urls, _silence_s(), pool_env(workers, pools),
                         broker=broker))
    except KeyboardInterrupt:
        pass
    finally:
        if broker is not None:
            stack_url_file(runtime_dir).unlink(missing_ok=True)
            broker.close()
            console.print("stopped mosquitto")


def _gateway_token(runtime_dir: Path, workers: list[WorkerSpec], console: Console) -> None:
    """The HTTP gateway's bearer token in <runtime-dir>/gateway.token (kept across runs); the
    gateway reads it from there (TARS_TOKEN_FILE) unless a token is configured."""
    if not any(w.name == "gateway" for w in workers):
        return
    path = gateway_token_file(runtime_dir.resolve())
    load_or_create_token(path)
    os.environ.setdefault("TARS_TOKEN_FILE", str(path))
    console.print(f"the gateway's bearer token (API and web console) is in {path}")


def _silence_s() -> float:
    """A worker silent for 4 heartbeat intervals (at least 30 s) is killed and restarted."""
    try:
        return max(30.0, 4 * load_settings(CoreSettings).heartbeat_s)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@dataclass(frozen=True)
class BrokerOptions:
    tls: bool = False
    require_cert: bool = False
    host: str = "127.0.0.1"
    satellites: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    bridge_to: str | None = None


def _start_local_broker(runtime_dir: Path, console: Console,
                        opts: BrokerOptions = BrokerOptions()) -> tuple[LocalBroker, dict[str, str]]:
    """Mosquitto with generated passwords and the registry's ACL (nothing anonymous): services and
    satellites on ``opts.host`` with client ids bound to their credential, the operator on a
    loopback-only listener."""
    workdir = runtime_dir.resolve() / "mosquitto"
    try:
        creds = Credentials(workdir).load_or_create(opts.satellites, opts.members)
        bridge = bridge_config(opts.bridge_to) if opts.bridge_to else []
        passwd, admin, acl = creds.write_broker_files()
        pki = Pki(workdir / "tls").ensure(list(creds.passwords), _cert_names(opts.host)) if opts.tls else None
        default = 8883 if opts.tls else 1883
        port = default if not port_open("127.0.0.1", default) else free_port()
        broker = LocalBroker(port=port, host=opts.host, workdir=workdir, password_file=passwd,
                             admin_password_file=admin, acl_file=acl, bind_client_ids=True,
                             tls=pki.broker_tls(opts.require_cert) if pki else None,
                             extra=tuple(bridge)).start()
    except (BusError, ConfigError, ValueError) as exc:
        raise fail(str(exc), 3) from None
    scheme = "mqtts" if pki else "mqtt"
    urls = {user: creds.url(user, "127.0.0.1", broker.port, scheme=scheme,
                            query=pki.client_query(user) if pki else "")
            for user in creds.passwords if user != ADMIN}
    urls[ADMIN] = creds.url(ADMIN, "127.0.0.1", broker.admin_port)
    _private(stack_url_file(runtime_dir), urls[ADMIN])
    for site in creds.satellites:
        user = satellite_user(site)
        _private(runtime_dir / f"{user}.url", urls[user].replace("127.0.0.1", _lan_name(opts.host), 1))
    console.print(f"started mosquitto on {broker.url} ({'TLS, ' if pki else ''}password auth, the "
                  f"registry's ACL per credential; operator listener on {broker.admin_url}; "
                  f"files in {runtime_dir}/mosquitto)")
    if opts.bridge_to:
        bridged = sum(x.startswith("topic ") for x in bridge)
        console.print(f"bridged to the hub {opts.bridge_to.split('@')[-1]} ({bridged} topic "
                      "filters: the hub credential's grants)")
    return broker, urls


def _private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _lan_name(host: str) -> str:
    return socket.gethostname() if host in ("0.0.0.0", "::") else host


def _cert_names(host: str) -> list[str]:
    name = socket.gethostname()
    return [n for n in (name, f"{name}.local", host) if n not in ("0.0.0.0", "::")]


async def _keep_broker(broker: LocalBroker, console: Console, stop: asyncio.Event) -> None:
    """Mosquitto that exits (crash, kill -9) is started again on the same port and files; the
    workers' connections come back by themselves."""
    while not stop.is_set():
        await asyncio.sleep(0.25)
        proc = broker.proc
        if proc is None or proc.poll() is None:
            continue
        console.print(f"[red]mosquitto exited ({proc.returncode})[/red]: starting it again on "
                      f"port {broker.port}")
        try:
            await asyncio.to_thread(broker.start)
        except BusError as exc:
            console.print(f"[red]mosquitto did not start again[/red]: {exc}")
            await asyncio.sleep(1.0)


async def _run(url: str, workers: list[WorkerSpec], console: Console, urls: dict[str, str],
               silence_s: float = 60.0, extra_env: dict[str, dict[str, str]] | None = None, *,
               broker: LocalBroker | None = None) -> None:
    from tars.runtime.connect import client_bus

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    keeper = (asyncio.create_task(_keep_broker(broker, console, stop), name="keep-broker")
              if broker is not None else None)
    if not workers:
        console.print("no workers are installed yet; the broker is running (Ctrl-C to stop)")
        await stop.wait()
        return
    names = [w.name for w in workers]
    console.print(f"starting workers: {', '.join(names)}")
    announced = asyncio.Event()
    watcher = Service("up", client_bus(url, "tars-up", connect_timeout=10), announce=False)
    peers = Peers(watcher, *names, log_changes=False)  # the supervisor tells about the workers

    async def on_status(_event: PeerEvent) -> None:
        if all(peers.online(name) for name in names) and not announced.is_set():
            announced.set()
            console.print(f"[bold green]tars is ready[/bold green]: {', '.join(names)} online. "
                          "Say 'hey jarvis' (or run `tars ask \"what time is it\"`); Ctrl-C stops.")

    env = {w.name: {"TARS_MQTT_URL": urls.get(w.name, url), **(extra_env or {}).get(w.name, {})}
           for w in workers}
    sup = Supervisor(workers, env, console, silence_s=silence_s)

    async def on_heartbeat(msg: Message) -> None:
        sup.heartbeat(msg.topic.rsplit("/", 1)[-1])

    peers.listen(on_status)
    await watcher.start()
    await watcher.bus.subscribe(T.SYSTEM_HEARTBEAT.filter, on_heartbeat, qos=0)
    await sup.start()
    try:
        await stop.wait()
    finally:
        if keeper is not None:
            keeper.cancel()
        console.print("stopping workers ...")
        await sup.stop()
        await watcher.stop()
