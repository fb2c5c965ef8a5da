"""``tars converse``: play a spoken question into the stack and print what tars answered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from tars.audio.pcm import AudioFormatError, read_wav
from tars.cli.common import configured_url, fail, print_json
from tars.runtime.errors import BusError

VOICE_STACK = ["memory", "tools", "llm", "router", "tts", "stt"]


def converse(
    wav: Annotated[Path, typer.Argument(
        help="The spoken request, wake word first (\"hey jarvis, what time is it\"); WAV, any rate")],
    out: Annotated[Path | None, typer.Option(help="Write the reply audio here")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    url: Annotated[str | None, typer.Option(help="mqtt://user:pass@host:port")] = None,
    speed: Annotated[float, typer.Option(help="1 = real time; 2 = twice as fast")] = 1.0,
    site: Annotated[str | None, typer.Option(help="Site id to speak on (default: a new one)")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the reply")] = 120.0,
) -> None:
    """Speak WAV into a running stack over MQTT audio (starting one if needed); print the reply."""
    try:
        samples = read_wav(wav)
    except AudioFormatError as exc:
        raise fail(f"cannot read the question: {exc}") from None
    try:
        result = asyncio.run(_run(configured_url(url), samples, out, speed, site, timeout))
    except BusError as exc:
        raise fail(str(exc), 3) from None
    if json_:
        print_json(result)
        return
    typer.echo(f"you said: {result['transcript'] or '(nothing recognised)'}")
    typer.echo(f"tars:     {result['reply'] or '(no reply)'}  [{result['path']}]")
    if result["voice_to_voice_ms"] is not None:
        typer.echo(f"voice to voice: {result['voice_to_voice_ms']:.0f} ms")
    if result["out"]:
        typer.echo(f"reply audio: {result['out']}")


async def _run(url: str, samples: Any, out: Path | None, speed: float, site: str | None,
               timeout: float) -> dict[str, Any]:
    from tars.stack.converse import converse_once
    from tars.stack.ephemeral import ensure_stack

    async with ensure_stack(VOICE_STACK, url, quiet=False) as stack:
        return await converse_once(stack.url, samples, namespace=stack.namespace, site=site,
                                   speed=speed, timeout_s=timeout, out=out)
