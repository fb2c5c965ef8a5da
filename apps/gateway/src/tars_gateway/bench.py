"""``tars bench gateway``: transcriptions through the HTTP gateway by 8 concurrent clients, and
the same audio as direct bus requests, for the gateway's overhead."""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import time
import uuid
import wave
from pathlib import Path
from typing import Any

import numpy as np

from tars.audio.pcm import SAMPLE_RATE, Int16Array
from tars.runtime.broker import free_port
from tars.runtime.settings import CoreSettings, load_settings
from tars_gateway.settings import Settings

UTTERANCES = ("Turn on the kitchen lights.", "Set a timer for ten minutes.",
              "What is the weather tomorrow?", "Please close the garage door.")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 1)


def _wav(samples: Int16Array) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        wf.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


async def _http_round(base: str, token: str, clips: list[bytes], clients: int, rounds: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    overheads: list[float] = []
    failures = 0

    async def client(n: int) -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=120) as http:
            for r in range(rounds):
                clip = clips[(n + r) % len(clips)]
                t0 = time.perf_counter()
                res = await http.post("/v1/audio/transcriptions", files={"file": ("q.wav", clip, "audio/wav")},
                                      data={"model": "whisper-1"})
                latencies.append((time.perf_counter() - t0) * 1000)
                if res.status_code != 200 or not res.json().get("text"):
                    failures += 1
                else:  # the request's time outside its bus round trip: HTTP, upload, decoding
                    overheads.append(latencies[-1] - float(res.headers["x-tars-transcribe-ms"]))

    t0 = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - t0
    return {"n": len(latencies), "failures": failures, "per_s": round(len(latencies) / wall, 2),
            "p50_ms": _pct(latencies, 0.5), "p95_ms": _pct(latencies, 0.95),
            "mean_ms": round(statistics.fmean(latencies), 1),
            "overhead_p50_ms": _pct(overheads, 0.5) if overheads else None,
            "overhead_p95_ms": _pct(overheads, 0.95) if overheads else None}


async def _bus_round(url: str, namespace: str, clips: list[Int16Array], clients: int,
                     rounds: int) -> dict[str, Any]:
    """The same requests straight on the bus (the gateway's own stt client, no HTTP)."""
    from tars.runtime import Service
    from tars.runtime.connect import client_bus
    from tars_gateway.routes import Routes
    from tars_gateway.transcribe import SttClient

    service = Service("bench-gateway", client_bus(url, "bench-gw", namespace=namespace),
                      announce=False)
    routes = Routes()
    stt = SttClient(service, routes, f"bench{uuid.uuid4().hex[:6]}", clients)
    routes.install(service)
    await service.start()
    latencies: list[float] = []
    failures = 0

    async def client(n: int) -> None:
        nonlocal failures
        for r in range(rounds):
            t0 = time.perf_counter()
            res = await stt.transcribe(clips[(n + r) % len(clips)], timeout_s=120)
            latencies.append((time.perf_counter() - t0) * 1000)
            failures += not res.text

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        wall = time.perf_counter() - t0
    finally:
        await service.stop()
    return {"n": len(latencies), "failures": failures, "per_s": round(len(latencies) / wall, 2),
            "p50_ms": _pct(latencies, 0.5), "p95_ms": _pct(latencies, 0.95),
            "mean_ms": round(statistics.fmean(latencies), 1)}


async def _bench(clients: int, rounds: int) -> dict[str, Any]:
    from tars.cli.common import configured_url
    from tars.stack.auth import load_or_create_token
    from tars.stack.ephemeral import ensure_stack, online_services
    from tars.testing.speech import piper

    speech = [piper(t) for t in UTTERANCES]
    pad = np.zeros(SAMPLE_RATE // 4, dtype=np.int16)
    samples = [np.concatenate([pad, s, pad]) for s in speech]
    clips = [_wav(s) for s in samples]
    url = configured_url(None)
    namespace = load_settings(CoreSettings).namespace
    try:
        running = "gateway" in await online_services(url, namespace)
    except Exception:
        running = False
    if running:
        settings = load_settings(Settings)
        token = settings.api_token or load_or_create_token(Path(settings.token_file))
        base = f"http://{settings.host}:{settings.port}"
    else:
        token, port = uuid.uuid4().hex, free_port()
        # 8 clients queue in one stt worker: give the last of them time
        os.environ.update({"TARS_API_TOKEN": token, "TARS_PORT": str(port), "TARS_HOST": "127.0.0.1",
                           "TARS_TRANSCRIBE_TIMEOUT_S": "120"})
        base = f"http://127.0.0.1:{port}"
    async with ensure_stack(["stt", "gateway"], url, namespace=namespace) as stack:
        await _http_round(base, token, clips[:1], 1, 1)  # warm-up
        http = await _http_round(base, token, clips, clients, rounds)
        bus = await _bus_round(stack.url, namespace, samples, clients, rounds)
        # one client at a time: no queueing in the stt worker, so the difference is the gateway's
        one_http = await _http_round(base, token, clips, 1, len(clips))
        one_bus = await _bus_round(stack.url, namespace, samples, 1, len(clips))
    audio_s = statistics.fmean(s.size / SAMPLE_RATE for s in samples)
    return {"bench": "gateway", "clients": clients, "requests": http["n"], "audio_s_mean": round(audio_s, 2),
            "transcriptions_per_s": http["per_s"], "p50_ms": http["p50_ms"], "p95_ms": http["p95_ms"],
            "failures": http["failures"], "direct_bus_per_s": bus["per_s"], "direct_bus_p50_ms": bus["p50_ms"],
            "direct_bus_p95_ms": bus["p95_ms"], "direct_bus_failures": bus["failures"],
            "single_client_p50_ms": one_http["p50_ms"], "single_client_direct_bus_p50_ms": one_bus["p50_ms"],
            "single_client_overhead_ms": round(one_http["mean_ms"] - one_bus["mean_ms"], 1),
            "gateway_overhead_p50_ms": http["overhead_p50_ms"], "gateway_overhead_p95_ms": http["overhead_p95_ms"],
            "gateway_overhead_single_p50_ms": one_http["overhead_p50_ms"]}


def run(clients: int = 8, rounds: int = 3) -> dict[str, Any]:
    """8 concurrent clients, ``rounds`` transcriptions each, through HTTP and straight on the bus."""
    return asyncio.run(_bench(int(clients), int(rounds)))
