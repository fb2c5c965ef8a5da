"""Container health check: exit 0 when a service's retained status is ``online``.

Usage: ``python -m tars.stack.healthcheck SERVICE`` (broker from TARS_MQTT_URL / config).
With TARS_HEALTH_FILE set (containers), it reads that file's age instead: a fresh file means the
service is online and its heartbeats reach the broker. Connecting with the service's own
credential would take over its client id (the broker binds client ids to usernames).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from tars.runtime.errors import BusError, ConfigError
from tars.runtime.service import HEALTH_FILE_ENV
from tars.runtime.settings import CoreSettings, load_settings
from tars.stack.ephemeral import online_services


def file_health(path: Path, service: str, max_age_s: float) -> int:
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        print(f"unhealthy: {service} has not reported online yet", file=sys.stderr)
        return 1
    if age > max_age_s:
        print(f"unhealthy: {service}'s last heartbeat reached the broker {age:.0f}s ago", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tars.stack.healthcheck SERVICE", file=sys.stderr)
        return 2
    try:
        settings = load_settings(CoreSettings)
        health_file = os.environ.get(HEALTH_FILE_ENV)
        if health_file:
            return file_health(Path(health_file), argv[0], max(3 * settings.heartbeat_s, 5.0))
        online = asyncio.run(online_services(settings.mqtt_url, settings.namespace, 0.5))
    except (BusError, ConfigError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if argv[0] in online:
        return 0
    print(f"unhealthy: {argv[0]} is not online", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
