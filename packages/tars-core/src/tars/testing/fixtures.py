"""pytest fixtures: a real Mosquitto per test session, a topic namespace per test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Will
from tars.testing.soundcard import VirtualSoundCard, virtual_sound_card


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """``TARS_TEST_MQTT_URL`` if set, else a mosquitto started on a free loopback port.

    Without mosquitto the test is skipped locally and fails in CI.
    """
    url = os.environ.get("TARS_TEST_MQTT_URL")
    if url:
        yield url
        return
    if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
        if _in_ci():
            pytest.fail("mosquitto is not installed; CI needs a real broker")
        pytest.skip("mosquitto is not installed")
    with LocalBroker() as broker:
        yield broker.url


@pytest.fixture
def namespace() -> str:
    """A topic prefix unique to one test, so tests sharing a broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}/"


@pytest.fixture
async def mqtt_bus_factory(mqtt_url: str, namespace: str) -> AsyncIterator[Callable[..., object]]:
    """Make MqttBus clients (``client_bus``) in this test's namespace; all are stopped afterwards."""
    from tars.runtime.connect import client_bus
    from tars.runtime.mqtt import MqttBus

    made: list[MqttBus] = []

    def make(will: Will | None = None) -> MqttBus:
        bus = client_bus(mqtt_url, "test", namespace=namespace, will=will)
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()


def require_sound_card() -> None:
    """Skip (fail in CI) when the virtual sound card's Debian packages are missing."""
    from tars.testing import soundcard

    if not soundcard.available():
        if _in_ci():
            pytest.fail("pulseaudio / pulseaudio-utils / libasound2-plugins are not installed")
        pytest.skip("the virtual sound card needs pulseaudio, pulseaudio-utils, libasound2-plugins")


@pytest.fixture
def sound_card() -> Iterator[VirtualSoundCard]:
    """A private PulseAudio "mic" and "speaker" for one test; pass ``sound_card.env`` to the
    worker processes that should use it (see tars.testing.soundcard)."""
    require_sound_card()
    with virtual_sound_card() as card:
        yield card
