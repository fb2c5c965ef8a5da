"""``tars monitor``: live, readable inspection of any broker's topics."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console

from tars.cli.common import configured_url, fail
from tars.cli.render import Decoded, Timelines, decode_message, render_line
from tars.runtime.bus import Message
from tars.runtime.errors import BusError


def monitor(
    filters: Annotated[list[str] | None, typer.Argument(help="Topic filters (default: tars/#)")] = None,
    url: Annotated[str | None, typer.Option(help="mqtt://user:pass@host:port (default from config)")] = None,
    corr: Annotated[str | None, typer.Option(help="Only this correlation id (a prefix is enough)")] = None,
    json_: Annotated[bool, typer.Option("--json", help="One raw JSON object per line")] = False,
    count: Annotated[int, typer.Option(help="Exit after N messages (0: run until Ctrl-C)")] = 0,
    timeline: Annotated[bool, typer.Option(help="Print a turn's timeline when it ends")] = True,
    audio: Annotated[bool, typer.Option(help="Show audio frames too")] = False,
    namespace: Annotated[str, typer.Option(help="Topic prefix of the stack")] = "",
) -> None:
    """Print one line per message: time, topic, type, source, correlation, payload summary."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        asyncio.run(_watch(configured_url(url), filters or ["tars/#"], corr, json_, count,
                           timeline, audio, namespace, console))
    except BusError as exc:
        raise fail(str(exc), 3) from None
    except KeyboardInterrupt:
        pass


def _as_json(d: Decoded) -> bytes:
    if d.envelope is not None:
        obj = {"topic": d.msg.topic, **d.envelope.model_dump(mode="json", exclude_none=True)}
        if d.pcm_bytes:
            obj["pcm_bytes"] = d.pcm_bytes
    else:
        obj = {"topic": d.msg.topic, "raw": d.msg.payload.decode(errors="replace"),
               "retained": d.msg.retain}
    return orjson.dumps(obj)


async def _watch(url: str, filters: list[str], corr: str | None, json_: bool, count: int,
                 timeline: bool, audio: bool, ns: str, console: Console) -> None:
    from tars.runtime.connect import client_bus

    bus = client_bus(url, "tars-monitor", namespace=ns, connect_timeout=5)
    done = asyncio.Event()
    seen = 0
    timelines = Timelines()

    async def on_message(msg: Message) -> None:
        nonlocal seen
        d = decode_message(msg)
        if d.pcm_bytes and not audio:
            return
        if corr and (d.envelope is None or not d.envelope.correlation_id.startswith(corr)):
            return
        if json_:
            sys.stdout.buffer.write(_as_json(d) + b"\n")
            sys.stdout.flush()
        else:
            console.print(render_line(d))
            if timeline and d.envelope is not None:
                text = timelines.add(d.envelope, msg.topic)
                if text is not None:
                    console.print(text)
        seen += 1
        if count and seen >= count:
            done.set()

    await bus.start()
    for flt in filters:
        await bus.subscribe(flt, on_message, qos=1)
    if not json_:
        console.print(f"[dim]watching {', '.join(filters)} on {bus.address.url()} (Ctrl-C to stop)[/dim]")
    try:
        await done.wait()
    finally:
        await bus.stop()
