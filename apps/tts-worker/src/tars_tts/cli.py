"""``tars speak TEXT``: have the tts worker speak, optionally recording the reply audio to a WAV file."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from tars.audio import write_wav
from tars.cli.common import configured_url, fail, print_json
from tars.clients.tts import Spoken, TtsClient
from tars.runtime import BusError, ConfigError, CoreSettings, RequestError, Service, load_settings
from tars.runtime.connect import client_bus
from tars.stack.ephemeral import ensure_stack


async def speak_text(text: str, url: str, namespace: str = "", *, record: bool = False,
                     timeout_s: float | None = None) -> Spoken:
    """Publish one say request on a site of its own and wait for its ``ended`` status."""
    site = f"speak-{uuid.uuid4().hex[:8]}"
    wait_s = timeout_s if timeout_s is not None else max(30.0, len(text) / 5)
    async with ensure_stack(["tts"], url, namespace=namespace) as stack:
        client = Service("speak", client_bus(stack.url, "tars-speak", namespace=namespace),
                         site_id=site)
        tts = TtsClient(client, audio_site=site if record else None)
        await client.start()
        try:
            return await tts.speak(text, site_id=site, record=record, timeout_s=wait_s)
        finally:
            await client.stop()


def summary(spoken: Spoken, out: Path | None) -> dict[str, Any]:
    first = spoken.first_audio_ms
    path = str(out) if out is not None else spoken.ended.path
    return {
        "correlation_id": spoken.correlation_id,
        "reason": spoken.ended.reason,
        "first_audio_ms": round(first, 1) if first is not None else None,
        "audio_s": spoken.ended.audio_s,
        "path": path,
    }


def speak(
    text: Annotated[str, typer.Argument(help="What to say")],
    out: Annotated[Path | None, typer.Option("--out", help="Also write the reply audio to this WAV file")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    url: Annotated[str | None, typer.Option(help="Broker URL (default: configured, or start one)")] = None,
) -> None:
    """Speak TEXT with the tts worker (uses a running stack or starts one)."""
    try:
        namespace = load_settings(CoreSettings).namespace
        spoken = asyncio.run(speak_text(text, configured_url(url), namespace, record=out is not None))
    except (BusError, ConfigError, RequestError) as exc:
        raise fail(str(exc), 3) from None
    reason = spoken.ended.reason or "?"
    if reason != "done":
        raise fail(f"not spoken: {reason}", 1)
    if out is not None:
        if spoken.samples.size == 0:
            raise fail("the tts worker sent no audio", 1)
        write_wav(out, spoken.samples, spoken.sample_rate)
    result = summary(spoken, out)
    if json_:
        print_json(result)
    else:
        first = result["first_audio_ms"]
        where = f" -> {result['path']}" if result["path"] else ""
        typer.echo(f"spoke {result['audio_s']:.1f} s of audio, first audio after "
                   f"{first if first is not None else '?'} ms{where}")
