"""Container health check: exit 0 when a service's retained status is ``online``.

Usage: ``python -m tars.stack.healthcheck SERVICE`` (broker from TARS_MQTT_URL / config).
"""

from __future__ import annotations

import asyncio
import sys

from tars.runtime.errors import BusError, ConfigError
from tars.runtime.settings import CoreSettings, load_settings
from tars.stack.ephemeral import online_services


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tars.stack.healthcheck SERVICE", file=sys.stderr)
        return 2
    try:
        settings = load_settings(CoreSettings)
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
