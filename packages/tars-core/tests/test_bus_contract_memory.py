"""The Bus contract on the InMemoryBus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tars.runtime.bus import Will
from tars.runtime.memory_bus import InMemoryBroker, InMemoryBus
from tars.testing.bus_contract import BusContract, Factory


class TestInMemoryBus(BusContract):
    @pytest.fixture
    def bus_factory(self) -> Factory:
        broker = InMemoryBroker()

        def make(**kw: Any) -> InMemoryBus:
            return InMemoryBus(broker, **kw)

        return make

    async def abrupt_client(self, factory: Factory, will: Will) -> Callable[[], Awaitable[None]]:
        bus = factory(will=will)
        assert isinstance(bus, InMemoryBus)
        await bus.start()
        return bus.kill
