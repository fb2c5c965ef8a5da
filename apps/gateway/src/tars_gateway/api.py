"""The OpenAI-compatible endpoints: transcriptions, speech, chat completions, models."""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.background import BackgroundTask

from tars.audio.pcm import SAMPLE_RATE
from tars.contracts.envelope import new_id, short_validation_error
from tars.contracts.llm import ChatMessage
from tars_gateway.auth import require_token
from tars_gateway.decode import decode_audio
from tars_gateway.errors import ApiError, BadRequest, Unavailable, UnsupportedMedia
from tars_gateway.gateway import Gateway
from tars_gateway.upload import Upload, receive_upload

log = logging.getLogger("tars.gateway.api")
MODELS = {"tars": "chat: router intents, LLM, memory and tools", "tars-stt": "speech to text",
          "tars-tts": "text to speech", "whisper-1": "alias of tars-stt", "tts-1": "alias of tars-tts"}


class SpeechRequest(BaseModel):
    model: str = "tars-tts"
    input: str = Field(min_length=1)
    voice: str | None = None
    response_format: str = "wav"
    speed: float = Field(default=1.0, gt=0.0, le=4.0)


class ChatRequest(BaseModel):
    model: str = "tars"
    messages: list[dict[str, Any]] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None


async def json_body(request: Request, model: type[BaseModel]) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise UnsupportedMedia(f"expected application/json, got {kind or 'no content type'!r}")
    raw = await request.body()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise BadRequest(short_validation_error(exc), param=".".join(str(x) for x in err["loc"]) or None) from None


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def split_messages(messages: list[dict[str, Any]]) -> tuple[str, list[ChatMessage]]:
    """The last user message is the turn's text; the ones before are its history."""
    last = messages[-1]
    if last.get("role") != "user":
        raise BadRequest("the last message must have role 'user'", param="messages")
    text = message_text(last).strip()
    if not text:
        raise BadRequest("the last message has no text", param="messages")
    history = []
    for m in messages[:-1]:
        role = m.get("role")
        if role == "developer":
            role = "system"
        if role in ("system", "user", "assistant") and message_text(m).strip():
            history.append(ChatMessage(role=role, content=message_text(m)))
    return text, history


def require_online(gw: Gateway, worker: str) -> None:
    if not gw.service.bus.connected:
        raise Unavailable("the message bus is unavailable; retry later", code="bus_unavailable")
    if not gw.health.online(worker):
        raise Unavailable(f"the {worker} worker is not online", code=f"{worker}_offline")


def wav_header(rate: int) -> bytes:
    """A streaming WAV header (sizes unknown: 0xFFFFFFFF, as streaming servers write it)."""
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF)


def build_router(gw: Gateway) -> APIRouter:
    api = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])
    s = gw.settings

    @api.get("/models")
    async def models() -> dict[str, Any]:
        created = int(gw.clock.time())
        return {"object": "list", "data": [{"id": m, "object": "model", "created": created, "owned_by": "tars",
                                            "description": d} for m, d in MODELS.items()]}

    @api.post("/audio/transcriptions")
    async def transcriptions(request: Request) -> Response:
        upload = await receive_upload(request.headers.get("content-type", ""), request.headers.get("content-length"),
                                      request.stream(), file_field="file",
                                      limit=int(s.max_upload_mb * 1024 * 1024), temp_dir=s.temp_dir or None)
        try:
            return await _transcribe(gw, upload)
        except BaseException:
            upload.remove()
            raise

    @api.post("/audio/speech")
    async def speech(request: Request) -> Response:
        req: SpeechRequest = await json_body(request, SpeechRequest)
        if req.response_format not in ("wav", "pcm"):
            raise BadRequest(f"response_format {req.response_format!r} is not supported (wav, pcm)",
                             param="response_format")
        if len(req.input) > s.max_input_chars:
            raise BadRequest(f"input is longer than {s.max_input_chars} characters", param="input")
        require_online(gw, "tts")
        chunks = gw.tts.speak(req.input, req.voice, timeout_s=s.speech_timeout_s)
        try:
            first = await anext(chunks)  # errors before any audio become a proper error response
        except StopAsyncIteration:
            raise BadRequest("the input produced no audio", param="input", code="no_audio") from None
        media = "audio/wav" if req.response_format == "wav" else "audio/pcm"

        async def body() -> AsyncIterator[bytes]:
            try:
                if req.response_format == "wav":
                    yield wav_header(first.sample_rate)
                yield first.pcm
                async for chunk in chunks:
                    yield chunk.pcm
            finally:  # also when the client goes away: the tts worker is told to stop
                await chunks.aclose()

        return StreamingResponse(body(), media_type=media, headers={"X-Sample-Rate": str(first.sample_rate)})

    @api.post("/chat/completions")
    async def chat(request: Request) -> Response:
        req: ChatRequest = await json_body(request, ChatRequest)
        text, history = split_messages(req.messages)
        require_online(gw, "router")
        created = int(gw.clock.time())
        if req.stream:
            return StreamingResponse(_chat_stream(gw, req.model, text, history, created),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        reply = await gw.router.ask(text, history, timeout_s=s.chat_timeout_s)
        res = reply.result
        return JSONResponse({
            "id": f"chatcmpl-{reply.correlation_id}", "object": "chat.completion", "created": created,
            "model": req.model, "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": res.reply}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "tars": {"path": res.path, "intent": res.intent, "tools": res.tools, "reason": res.reason,
                     "first_token_ms": res.first_token_ms, "correlation_id": reply.correlation_id},
        })

    return api


async def _transcribe(gw: Gateway, upload: Upload) -> Response:
    s = gw.settings
    if upload.path is None:
        raise BadRequest("the form has no 'file' part", param="file")
    fmt = upload.fields.get("response_format", "json")
    if fmt not in ("json", "text", "verbose_json"):
        raise BadRequest(f"response_format {fmt!r} is not supported (json, text, verbose_json)",
                         param="response_format")
    path: Path = upload.path
    require_online(gw, "stt")
    try:
        samples = await asyncio.to_thread(decode_audio, path, max_s=s.max_audio_s)
    finally:
        upload.remove()  # decoded: the file is not needed any more (the background task is a safety net)
    timeout = s.transcribe_timeout_s + samples.size / SAMPLE_RATE
    started = time.monotonic()
    result = await gw.stt.transcribe(samples, timeout_s=timeout)
    log.info("transcribed %.1f s of audio in %.0f ms", result.duration_s, (time.monotonic() - started) * 1000)
    cleanup = BackgroundTask(upload.remove)
    headers = {"X-Tars-Transcribe-Ms": str(result.elapsed_ms)}  # the bus part of the request
    if fmt == "text":
        return PlainTextResponse(result.text, background=cleanup, headers=headers)
    if fmt == "json":
        return JSONResponse({"text": result.text}, background=cleanup, headers=headers)
    return JSONResponse({
        "task": "transcribe", "language": result.language, "duration": result.duration_s, "text": result.text,
        "segments": [{"id": i, "start": seg.start_s, "end": seg.end_s, "text": seg.text,
                      "avg_logprob": None, "confidence": seg.confidence} for i, seg in enumerate(result.segments)],
    }, background=cleanup, headers=headers)


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


async def _chat_stream(gw: Gateway, model: str, text: str, history: list[ChatMessage],
                       created: int) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    async def on_delta(delta: str) -> None:
        queue.put_nowait(delta)

    cid = new_id()
    task = asyncio.ensure_future(gw.router.ask(text, history, timeout_s=gw.settings.chat_timeout_s,
                                               on_delta=on_delta, correlation_id=cid))
    task.add_done_callback(lambda _t: queue.put_nowait(None))

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return _sse({"id": f"chatcmpl-{cid}", "object": "chat.completion.chunk", "created": created,
                     "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    try:
        yield chunk({"role": "assistant", "content": ""})
        sent = ""
        while (delta := await queue.get()) is not None:
            sent += delta
            yield chunk({"content": delta})
        try:
            reply = task.result()
        except ApiError as exc:  # the status line is gone: the error goes into the stream
            yield _sse(exc.body())
            return
        final = reply.result.reply
        if final.startswith(sent) and len(final) > len(sent):
            yield chunk({"content": final[len(sent):]})
        elif not sent and final:
            yield chunk({"content": final})
        yield chunk({}, "stop")
        yield b"data: [DONE]\n\n"
    finally:
        if not task.done():
            task.cancel()
