"""``python -m tars_gateway``: the HTTP gateway and web console."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator

import uvicorn

from tars.runtime.errors import BusError, ConfigError
from tars.runtime.runner import make_service, setup_logging
from tars.runtime.settings import load_settings
from tars_gateway.app import create_app
from tars_gateway.gateway import build_gateway
from tars_gateway.settings import Settings

log = logging.getLogger("tars.gateway")


def listen(host: str, port: int) -> socket.socket:
    """Bind before anything else starts: a port in use is one clear line, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"config error: gateway.host/port: cannot listen on {host}:{port} ({exc.strerror})") from exc
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the gateway's loop handlers stop everything."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings) -> None:
    sock = listen(settings.host, settings.port)
    service = make_service("gateway", settings)
    gw = build_gateway(settings, service)
    config = uvicorn.Config(create_app(gw), log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=5, ws_max_size=1 << 20)
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.request_stop)
    await service.start()
    web = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        for _ in range(500):  # uvicorn starts within milliseconds on a bound socket
            if server.started or web.done():
                break
            await asyncio.sleep(0.02)
        host, port = sock.getsockname()[:2]
        log.info("Ready: http://%s:%d/ (console; API under /v1)", host, port)
        stopped = asyncio.ensure_future(service.wait_stopped())
        await asyncio.wait({web, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
    finally:
        log.info("stopping")
        server.should_exit = True
        await asyncio.gather(web, return_exceptions=True)
        await service.stop()
        sock.close()


def main() -> int:
    try:
        settings = load_settings(Settings)
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    setup_logging("gateway", settings.log_level)
    try:
        asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except BusError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
