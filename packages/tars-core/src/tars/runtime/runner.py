"""The worker runner: settings -> umask, bounded logs -> build + preload -> connect -> Ready -> serve."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

from tars.runtime.connect import client_bus
from tars.runtime.errors import BusError, ConfigError
from tars.runtime.logs import setup_logging as setup_logging
from tars.runtime.pool import Pool
from tars.runtime.service import Service, offline_will
from tars.runtime.settings import CoreSettings, load_settings

S = TypeVar("S", bound=CoreSettings)
Build = Callable[[S, Service], Awaitable[None]]

log = logging.getLogger("tars.runner")


def make_service(name: str, settings: CoreSettings) -> Service:
    try:
        pool = Pool(name, settings.pool_size, settings.pool_index, home=settings.site_id)
    except ValueError as exc:
        raise ConfigError(f"config error: {exc} (TARS_POOL_INDEX, TARS_POOL_SIZE)") from exc
    bus = client_bus(settings.mqtt_url, pool.member, namespace=settings.namespace,
                     will=partial(offline_will, pool.member), session_expiry_s=pool.session_expiry_s)
    return Service(name, bus, instance=bus.client_id, site_id=settings.site_id,
                   max_concurrency=settings.max_concurrency, heartbeat_s=settings.heartbeat_s,
                   pool=pool)


async def serve(name: str, settings: S, build: Build[S]) -> None:
    service = make_service(name, settings)
    await build(settings, service)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.request_stop)
    await service.start()
    log.info("Ready: %s on %s", service.instance, settings.mqtt_url.split("@")[-1])
    try:
        await service.wait_stopped()
    finally:
        log.info("stopping")
        await service.stop()


def run_worker(name: str, settings_cls: type[S], build: Build[S]) -> int:
    """Entry point for ``python -m <worker>``; returns the process exit code."""
    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    os.umask(0o077)  # every file a worker creates is 0600, every directory 0700
    setup_logging(name, settings.log_level)
    try:
        asyncio.run(serve(name, settings, build))
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except BusError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        pass
    return 0
