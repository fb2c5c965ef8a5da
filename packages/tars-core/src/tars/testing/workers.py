"""Run a real worker process for a test: ``python -m <module>`` against the test broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tars.stack.ephemeral import wait_online


@contextmanager
def worker_process(module: str, service: str, mqtt_url: str, namespace: str, log: Path,
                   **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """Start the worker with TARS_MQTT_URL / TARS_NAMESPACE (and ``TARS_<KEY>`` for each ``env``
    item), wait until its status is online, and stop it (SIGTERM, then SIGKILL) afterwards."""
    full = {**os.environ, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
            "TARS_HEARTBEAT_S": "2", **{f"TARS_{k.upper()}": v for k, v in env.items()}}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", module], env=full, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        asyncio.run(wait_online(mqtt_url, [service], namespace, 120, {service: proc}))  # type: ignore[dict-item]
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
