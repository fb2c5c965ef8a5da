"""The web console: static page, live bus and push-to-talk over WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib.resources import files
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response

from tars_gateway.auth import token_ok
from tars_gateway.gateway import Gateway

log = logging.getLogger("tars.gateway.console")
STATIC = files("tars_gateway") / "static"
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}
HEALTH_EVERY_S = 2.0
AUTH_TIMEOUT_S = 10.0


async def _authenticate(ws: WebSocket, gw: Gateway) -> bool:
    await ws.accept()
    try:
        first = await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S)
        token = orjson.loads(first).get("token")
    except (TimeoutError, orjson.JSONDecodeError, AttributeError, KeyError, WebSocketDisconnect):
        token = None
    if not isinstance(token, str) or not token_ok(gw.token, token):
        with contextlib.suppress(Exception):
            await ws.send_json({"kind": "error", "error": "invalid or missing token"})
            await ws.close(code=4401, reason="invalid or missing token")
        return False
    return True


def build_console(gw: Gateway) -> APIRouter:
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> Response:
        return HTMLResponse((STATIC / "index.html").read_text())

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        item = STATIC / name
        suffix = name[name.rfind("."):] if "." in name else ""
        if "/" in name or suffix not in TYPES or not item.is_file():
            return Response(status_code=404)
        return Response(item.read_bytes(), media_type=TYPES[suffix], headers={"Cache-Control": "no-cache"})

    @router.websocket("/ws/bus")
    async def bus(ws: WebSocket) -> None:
        if not await _authenticate(ws, gw):
            return
        queue = await gw.live.join()
        try:
            await ws.send_json({"kind": "hello", "health": gw.health.snapshot(), "turns": gw.turns.recent(),
                                "site": gw.settings.browser_site})
            await asyncio.gather(_pump_bus(ws, gw, queue), _drain(ws))
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await gw.live.leave(queue)

    @router.websocket("/ws/talk")
    async def talk(ws: WebSocket) -> None:
        if not await _authenticate(ws, gw):
            return
        queue = gw.talk.join()
        sender = asyncio.ensure_future(_pump_talk(ws, queue))
        try:
            await ws.send_json({"type": "ready", "site": gw.settings.browser_site})
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
                if msg.get("bytes"):
                    await gw.talk.audio(msg["bytes"])
                elif msg.get("text"):
                    await _talk_command(gw, msg["text"])
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            sender.cancel()
            gw.talk.leave(queue)
            await gw.talk.release()

    return router


async def _talk_command(gw: Gateway, text: str) -> None:
    try:
        cmd: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        return
    kind = cmd.get("type") if isinstance(cmd, dict) else None
    if kind == "press":
        await gw.talk.press()
    elif kind == "release":
        await gw.talk.release()


async def _pump_bus(ws: WebSocket, gw: Gateway, queue: asyncio.Queue[dict[str, Any]]) -> None:
    loop = asyncio.get_running_loop()
    next_health = loop.time() + HEALTH_EVERY_S
    while True:
        try:
            item = await asyncio.wait_for(queue.get(), max(0.01, next_health - loop.time()))
            await ws.send_bytes(orjson.dumps(item))
        except TimeoutError:
            pass
        if loop.time() >= next_health:
            await ws.send_bytes(orjson.dumps({"kind": "health", "health": gw.health.snapshot()}))
            next_health = loop.time() + HEALTH_EVERY_S


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, so a disconnect is noticed."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            raise WebSocketDisconnect()


async def _pump_talk(ws: WebSocket, queue: asyncio.Queue[dict[str, Any] | bytes]) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            item = await queue.get()
            if isinstance(item, bytes):
                await ws.send_bytes(item)
            else:
                await ws.send_json(item)
