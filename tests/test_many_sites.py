"""50 sites at once through the real router and tools processes: every turn answered, each with
its own answer (none lost, none crossed), arithmetic and timers worked out by the tools worker."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tars.clients.router import RouterClient
from tars.contracts.turn import TextTurn, TurnResult
from tars.runtime.mqtt import MqttBus
from tars.runtime.service import Service
from tars.testing.workers import worker_process

pytestmark = [pytest.mark.broker, pytest.mark.e2e]
SITES = 50


def question(n: int) -> tuple[str, str]:
    """(what site n asks, the answer it must get): a product of its own, or a timer of its own."""
    if n % 5 == 4:
        return f"set a timer for {n + 1} minutes", f"{n + 1} minutes"
    a, b = 11 + n, 3 + n % 7
    return f"what is {a} times {b}", f"{a} times {b} is {a * b}."


async def _ask_all(url: str, namespace: str) -> dict[int, TurnResult | None]:
    service = Service("many-sites", MqttBus(url, f"many-sites-{os.getpid()}", namespace=namespace),
                      announce=False)
    router = RouterClient(service)
    await service.start()
    try:
        async def one(n: int) -> TurnResult | None:
            try:
                reply = await router.ask(TextTurn(text=question(n)[0], speak=False),
                                         site_id=f"room-{n}", timeout_s=60)
            except TimeoutError:
                return None
            return reply.result

        results = await asyncio.gather(*(one(n) for n in range(SITES)))
        return dict(enumerate(results))
    finally:
        await service.stop()


def test_fifty_sites_at_once_each_get_their_own_answer(mqtt_url: str, namespace: str,
                                                       tmp_path: Path) -> None:
    with worker_process("tars_tools", "tools", mqtt_url, namespace, tmp_path / "tools.log",
                        data_dir=str(tmp_path / "data")), \
            worker_process("tars_router", "router", mqtt_url, namespace, tmp_path / "router.log"):
        results = asyncio.run(_ask_all(mqtt_url, namespace))
    lost = [n for n, r in results.items() if r is None]
    assert not lost, f"no answer for sites {lost}"
    wrong = {n: r.reply for n, r in results.items()
             if r is not None and (r.path != "intent" or question(n)[1] not in r.reply)}
    assert not wrong, wrong
