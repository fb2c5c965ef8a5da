"""``tars ask "TEXT"``: one typed turn through the router, printed as text or JSON."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from tars.cli.common import configured_url, fail, print_json
from tars.clients.router import RouterClient
from tars.contracts.turn import TextTurn
from tars.runtime import Service
from tars.runtime.errors import BusError, ConfigError
from tars.runtime.settings import CoreSettings, load_settings


async def run_ask(text: str, url: str, namespace: str, *, speak: bool, use_llm: bool,
                  timeout_s: float, site: str | None, quiet: bool) -> dict[str, Any]:
    """Make sure the workers run, send the text, return the turn's result as a dict."""
    from tars.runtime.connect import client_bus
    from tars.stack.ephemeral import ensure_stack

    needed = ["router", "llm", "tools"] if use_llm else ["router"]
    async with ensure_stack(needed, url, namespace=namespace, quiet=quiet) as stack:
        service = Service("cli-ask", client_bus(stack.url, "tars-ask", namespace=namespace,
                                                connect_timeout=5))
        router = RouterClient(service)
        await service.start()
        try:
            # settle_s: the "ended" event published just before the result may land after it
            reply = await router.ask(TextTurn(text=text, speak=speak), site_id=site,
                                     timeout_s=timeout_s, settle_s=0.05)
            result = reply.result
            if not result.text:
                result = result.model_copy(update={"text": text})
            return {"correlation_id": reply.correlation_id, **result.model_dump(), "events": reply.events}
        finally:
            await service.stop()


def ask(
    text: Annotated[str, typer.Argument(help="What to ask, e.g. \"what time is it\"")],
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    url: Annotated[str | None, typer.Option(help="mqtt://user:pass@host:port")] = None,
    speak: Annotated[bool, typer.Option("--speak/--no-speak", help="Also speak the reply")] = True,
    llm: Annotated[bool, typer.Option("--llm/--no-llm",
                                      help="--no-llm: only the router (local intents)")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply")] = 120.0,
    site: Annotated[str | None, typer.Option(help="Site id of the turn")] = None,
) -> None:
    """Ask tars something by text; prints the reply (starts missing workers for the command)."""
    try:
        namespace = load_settings(CoreSettings).namespace
    except ConfigError as exc:
        raise fail(str(exc)) from None
    try:
        out = asyncio.run(run_ask(text, configured_url(url), namespace, speak=speak, use_llm=llm,
                                  timeout_s=timeout, site=site, quiet=json_))
    except TimeoutError:
        raise fail(f"no reply within {timeout:.0f}s", 4) from None
    except BusError as exc:
        raise fail(str(exc), 3) from None
    if json_:
        print_json(out)
    else:
        typer.echo(out["reply"] or f"({out['reason']})")
