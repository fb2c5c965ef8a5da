"""One stack per module: broker, the stt / tts / wake workers and the bridge, as processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tars.runtime.broker import free_port
from tars.testing.workers import worker_process
from tars_wyoming.testing import Bridge


@pytest.fixture(scope="module")
def bridge(mqtt_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """Real stt, tts and wake workers and the bridge process, shared by a module's tests."""
    logs = tmp_path_factory.mktemp("wyoming")
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    ports = {name: free_port() for name in ("asr", "tts", "wake", "pipeline")}
    with ExitStack() as stack:
        stack.enter_context(worker_process("tars_stt", "stt", mqtt_url, namespace, logs / "stt.log",
                                           audio_source="mqtt"))
        stack.enter_context(worker_process("tars_tts", "tts", mqtt_url, namespace, logs / "tts.log",
                                           sink="wav", data_dir=str(logs / "data")))
        stack.enter_context(worker_process("tars_wake", "wake", mqtt_url, namespace,
                                           logs / "wake.log"))
        stack.enter_context(worker_process(
            "tars_wyoming", "wyoming", mqtt_url, namespace, logs / "wyoming.log",
            host="127.0.0.1",
            **{f"{name}_port": str(port) for name, port in ports.items()}))
        yield Bridge("127.0.0.1", ports, namespace, mqtt_url, logs)
