"""``tars transcribe FILE.wav``: stream a WAV file through the stt worker and print the text."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from tars.audio import SAMPLE_RATE, AudioFormatError, read_wav
from tars.cli.common import configured_url, fail, print_json
from tars.clients.stt import Heard, SttClient
from tars.runtime import BusError, ConfigError, CoreSettings, Service, load_settings
from tars.runtime.connect import client_bus
from tars.stack.ephemeral import ensure_stack


async def transcribe_samples(samples: Any, url: str, namespace: str, *, speed: float = 4.0,
                             quiet: bool = True) -> list[Heard]:
    """Stream ``samples`` as a "transcription" (text only, never a turn) on a site of their own
    through the stt worker; return the finals that carry this request's correlation id."""
    site = f"transcribe-{uuid.uuid4().hex[:8]}"
    async with ensure_stack(["stt"], url, namespace=namespace, quiet=quiet) as stack:
        bus = client_bus(stack.url, "tars-transcribe", namespace=namespace)
        client = Service("transcribe", bus, site_id=site)
        stt = SttClient(client)
        await client.start()
        try:
            return await stt.transcribe(samples, site, speed=speed, idle_s=2.0, first_timeout_s=15.0)
        finally:
            await client.stop()


def summary(heard: list[Heard], audio_s: float) -> dict[str, Any]:
    text = " ".join(h.final.text.strip() for h in heard).strip()
    out: dict[str, Any] = {
        "text": text,
        "confidence": round(min(h.final.confidence for h in heard), 4),
        "audio_s": round(audio_s, 3),
        "latency_ms": round(heard[-1].latency_ms, 1),
    }
    if len(heard) > 1:
        out["segments"] = [
            {"text": h.final.text, "confidence": h.final.confidence,
             "start_s": h.final.speech_start_s, "end_s": h.final.speech_end_s,
             "latency_ms": round(h.latency_ms, 1), "transcribe_ms": h.final.transcribe_ms}
            for h in heard
        ]
    return out


def transcribe(
    file: Annotated[Path, typer.Argument(help="A WAV file (any rate, width, channels)")],
    json_: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
    url: Annotated[str | None, typer.Option(help="Broker URL (default: configured, or start one)")] = None,
    speed: Annotated[float, typer.Option(help="Streaming pace relative to real time")] = 4.0,
) -> None:
    """Transcribe a WAV file with the stt worker (uses a running stack or starts one)."""
    try:
        samples = read_wav(file)
    except AudioFormatError as exc:
        raise fail(f"cannot transcribe: {exc}") from None
    try:
        namespace = load_settings(CoreSettings).namespace
        heard = asyncio.run(transcribe_samples(samples, configured_url(url), namespace,
                                               speed=speed))
    except (BusError, ConfigError) as exc:
        raise fail(str(exc), 3) from None
    if not heard:
        raise fail(f"no speech recognised in {file}", 1)
    result = summary(heard, samples.size / SAMPLE_RATE)
    if json_:
        print_json(result)
    else:
        typer.echo(result["text"])
