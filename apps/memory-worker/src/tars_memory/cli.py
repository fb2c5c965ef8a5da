"""``tars memory query|add|stats|forget``: talk to the memory worker (started if needed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from tars.cli.common import configured_url, fail, print_json
from tars.contracts import topics as T
from tars.contracts.memory import (
    MemoryAck,
    MemoryForget,
    MemoryIngest,
    MemoryQuery,
    MemoryResults,
    MemoryStatsRequest,
)
from tars.contracts.topics import TopicSpec
from tars.runtime import Requester, RequestError, Service
from tars.runtime.errors import BusError, ConfigError
from tars.runtime.settings import CoreSettings, load_settings

app = typer.Typer(help="Search, add to, count and forget tars' long-term memory.",
                  no_args_is_help=True)
R = TypeVar("R", bound=BaseModel)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object")]
UrlOpt = Annotated[str | None, typer.Option(help="mqtt://user:pass@host:port")]
TimeoutOpt = Annotated[float, typer.Option(help="Seconds to wait for the memory worker's reply")]


async def _talk(url: str, namespace: str, quiet: bool,
                fn: Callable[[Service], Awaitable[R]]) -> R:
    from tars.runtime.connect import client_bus
    from tars.stack.ephemeral import ensure_stack

    async with ensure_stack(["memory"], url, namespace=namespace, quiet=quiet) as stack:
        service = Service("cli-memory", client_bus(stack.url, "tars-memory", namespace=namespace,
                                                   connect_timeout=5))
        await service.start()
        try:
            return await fn(service)
        finally:
            await service.stop()


def _request(topic: TopicSpec, request: BaseModel, spec: TopicSpec, url: str | None,
             timeout: float, quiet: bool) -> Any:

    async def ask(service: Service) -> BaseModel:
        requester: Requester[BaseModel] = Requester(service, topic, spec, timeout_s=timeout)
        await requester.start()
        try:
            return (await requester.request(request)).payload
        finally:
            await requester.close()

    try:
        namespace = load_settings(CoreSettings).namespace
        return asyncio.run(_talk(configured_url(url), namespace, quiet, ask))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except RequestError as exc:
        raise fail(f"the memory worker did not answer: {exc}", 4) from None
    except BusError as exc:
        raise fail(str(exc), 3) from None


def _check(error: str | None) -> None:
    if error:
        raise fail(f"memory: {error}", 1)


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="What to look for")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="Most hits")] = 5,
    threshold: Annotated[float, typer.Option(help="Lowest score (0 = the worker's default)")] = 0.0,
    json_: JsonOpt = False, url: UrlOpt = None, timeout: TimeoutOpt = 10.0,
) -> None:
    """Nearest memories to TEXT, best first, with their cosine scores."""
    out: MemoryResults = _request(T.MEMORY_QUERY, MemoryQuery(text=text, k=k, threshold=threshold),
                   T.MEMORY_RESULTS, url, timeout, json_)
    _check(out.error)
    if json_:
        print_json(out.model_dump(exclude_none=True))
        return
    if not out.hits:
        typer.echo("(nothing relevant remembered)")
    for hit in out.hits:
        when = datetime.fromtimestamp(hit.ts).strftime("%Y-%m-%d %H:%M")
        typer.echo(f"{hit.score:.3f}  #{hit.id}  [{hit.role} @ {hit.site_id}, {when}]  {hit.text}")


@app.command()
def add(
    text: Annotated[str, typer.Argument(help="The fact to remember")],
    role: Annotated[str, typer.Option(help="user, assistant, fact or note")] = "fact",
    json_: JsonOpt = False, url: UrlOpt = None, timeout: TimeoutOpt = 10.0,
) -> None:
    """Remember TEXT (duplicates and very short texts are skipped)."""
    if role not in ("user", "assistant", "fact", "note"):
        raise fail(f"--role must be user, assistant, fact or note, not {role!r}")
    request = MemoryIngest.model_validate({"text": text, "role": role, "source": "cli"})
    ack: MemoryAck = _request(T.MEMORY_INGEST, request, T.MEMORY_ACK, url, timeout, json_)
    _check(ack.error)
    if json_:
        print_json(ack.model_dump(exclude_none=True))
    elif ack.ids:
        typer.echo(f"remembered as #{ack.ids[0]}")
    else:
        typer.echo("already known (or too short): nothing stored")


@app.command()
def stats(json_: JsonOpt = False, url: UrlOpt = None, timeout: TimeoutOpt = 10.0) -> None:
    """How many memories are stored, per role, and the store's sizes."""
    ack: MemoryAck = _request(T.MEMORY_STATS, MemoryStatsRequest(), T.MEMORY_ACK, url, timeout, json_)
    _check(ack.error)
    if json_:
        print_json(ack.stats)
        return
    for key, value in ack.stats.items():
        typer.echo(f"{key:>18}  {value:g}")


@app.command()
def forget(
    ids: Annotated[list[int] | None, typer.Option("--id", help="A memory id (repeatable)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Forget everything")] = False,
    contains: Annotated[str | None, typer.Option(help="Forget memories containing this text")] = None,
    role: Annotated[str | None, typer.Option(help="Only memories of this role")] = None,
    json_: JsonOpt = False, url: UrlOpt = None, timeout: TimeoutOpt = 10.0,
) -> None:
    """Delete memories by id, by text, by role, or all of them."""
    if not (ids or all_ or contains or role):
        raise fail("say what to forget: --id N, --contains TEXT, --role ROLE or --all")
    flt: dict[str, Any] | None = {"role": role} if role else None
    request = MemoryForget.model_validate({"ids": ids or [], "all": all_,
                                           "text_contains": contains, "filter": flt})
    ack: MemoryAck = _request(T.MEMORY_FORGET, request, T.MEMORY_ACK, url, timeout, json_)
    _check(ack.error)
    if json_:
        print_json(ack.model_dump(exclude_none=True))
    else:
        typer.echo(f"forgot {ack.count} memor{'y' if ack.count == 1 else 'ies'}")

