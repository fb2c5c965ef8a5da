"""``tars pub``: publish one message, wrapped in a tars envelope, and exit."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import orjson
import typer

from tars.cli.common import configured_url, fail
from tars.contracts import Envelope, encode
from tars.runtime.errors import BusError


def pub(
    topic: Annotated[str, typer.Argument(help="Topic to publish on, e.g. tars/tts/say")],
    data: Annotated[str, typer.Argument(help="JSON object for the payload, e.g. '{\"text\": \"hi\"}'")],
    type_: Annotated[str, typer.Option("--type", help="Envelope type, e.g. tts.say")],
    url: Annotated[str | None, typer.Option(help="mqtt://user:pass@host:port")] = None,
    corr: Annotated[str | None, typer.Option(help="Correlation id (default: a new one)")] = None,
    site: Annotated[str | None, typer.Option(help="Site id")] = None,
    retain: Annotated[bool, typer.Option(help="Publish retained")] = False,
    qos: Annotated[int, typer.Option(min=0, max=2)] = 1,
    namespace: Annotated[str, typer.Option(help="Topic prefix of the stack")] = "",
) -> None:
    """Publish JSON_DATA on TOPIC inside an envelope of type TYPE."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise fail(f"DATA is not JSON: {exc.msg}") from None
    if not isinstance(payload, dict):
        raise fail("DATA must be a JSON object")
    env = Envelope(type=type_, source=f"cli-{os.getpid()}", site_id=site, data=payload)
    if corr:
        env.correlation_id = corr
    try:
        asyncio.run(_publish(configured_url(url), namespace, topic, encode(env), qos, retain))
    except BusError as exc:
        raise fail(str(exc), 3) from None
    typer.echo(f"published {env.type} on {topic} (id {env.id[:8]}, correlation {env.correlation_id[:8]})")


async def _publish(url: str, ns: str, topic: str, raw: bytes, qos: int, retain: bool) -> None:
    from tars.runtime.connect import client_bus

    bus = client_bus(url, "tars-pub", namespace=ns, connect_timeout=5)
    await bus.start()
    try:
        await bus.publish(topic, raw, qos=qos, retain=retain)
    finally:
        await bus.stop()
