"""Memory never poisons an answer: the real memory worker and the real model on a real broker.
A reply given once never comes back through RAG, and no turn sees another site's conversation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tars.contracts import topics as T
from tars.contracts.llm import LlmRequest
from tars.contracts.memory import MemoryQuery, MemoryResults
from tars.contracts.turn import TurnResult
from tars.runtime import Inbound, Service
from tars.runtime.clock import ManualClock
from tars.runtime.connect import client_bus
from tars.runtime.settings import load_settings
from tars_llm.service import LlmWorker, build_worker
from tars_llm.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.broker, pytest.mark.timeout(600)]


def service(url: str, namespace: str, name: str) -> Service:
    return Service(name, client_bus(url, name, namespace=namespace))


class Rig:
    def __init__(self, url: str, namespace: str, llm: LlmWorker, client: Any) -> None:
        self.llm, self.client = llm, client
        self.peer = service(url, namespace, "peer")
        self.results: dict[str, MemoryResults] = {}
        self.peer.handle(T.MEMORY_RESULTS, self.on_results)

    async def on_results(self, msg: Inbound[MemoryResults]) -> None:
        self.results[msg.correlation_id] = msg.payload

    async def turn_result(self, site: str, text: str, reply: str) -> None:
        """What the router publishes at the end of a turn (the memory worker ingests it)."""
        await self.peer.publish(T.TURN_RESULT, TurnResult(text=text, reply=reply, path="llm",
                                                          reason="completed"), site_id=site)

    async def ask(self, site: str, text: str) -> tuple[str, MemoryResults]:
        cid = uuid.uuid4().hex
        turn = self.client._turn(cid)
        await self.client.service.publish(T.LLM_REQUEST, LlmRequest(text=text, use_tools=False,
                                                                    max_tokens=40),
                                          correlation_id=cid, site_id=site)
        await asyncio.wait_for(turn.done.wait(), 120)
        assert turn.response.error is None, turn.response
        return turn.response.text, self.results[cid]


@pytest.fixture
async def rig(mqtt_url: str, namespace: str, qwen: Any, kit: Any, tmp_path: Path) -> AsyncIterator[Rig]:
    from tars_memory.bert import make_embedder
    from tars_memory.service import build_with
    from tars_memory.settings import Settings as MemorySettings

    memory = service(mqtt_url, namespace, "memory")
    msettings = load_settings(MemorySettings, data_dir=tmp_path / "memory",
                              character_file=tmp_path / "none.toml", min_score=0.1)
    await build_with(msettings, memory, make_embedder(msettings.embedder()))
    await memory.start()
    llm_service = service(mqtt_url, namespace, "llm")
    settings = Settings(mqtt_url=mqtt_url, namespace=namespace, warm_up=False, rag_timeout_s=5.0,
                        rag_min_score=0.1)
    llm = await build_worker(settings, llm_service, model=qwen,
                             clock=ManualClock(datetime(2030, 11, 25, 15, 7, tzinfo=UTC)))
    await llm_service.start()
    made = Rig(mqtt_url, namespace, llm, await kit.client(namespace))
    await made.peer.start()
    for _ in range(200):
        if llm.memory_online:
            break
        await asyncio.sleep(0.05)
    yield made
    await made.peer.stop()
    await llm_service.stop()
    await memory.stop()


async def stored(rig: Rig, site: str, text: str) -> None:
    """Wait until the memory worker holds ``text`` (turn ingestion sends no ack)."""
    for _ in range(100):
        cid = uuid.uuid4().hex
        await rig.peer.publish(T.MEMORY_QUERY, MemoryQuery(text=text, k=3), correlation_id=cid,
                               site_id=site)
        for _ in range(40):
            if cid in rig.results:
                break
            await asyncio.sleep(0.05)
        if any(h.text == text for h in rig.results.get(cid, MemoryResults()).hits):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} was never stored")


async def test_a_reply_never_comes_back_and_sites_stay_apart(rig: Rig) -> None:
    await rig.turn_result("hall", "My locker code is 4711.", "Noted.")
    await rig.turn_result("kitchen", "My sister is called Ada.", "Nice name.")
    await stored(rig, "kitchen", "My sister is called Ada.")

    question = "What time is it?"
    first, _ = await rig.ask("kitchen", question)
    await rig.turn_result("kitchen", question, first)  # the router stores the finished turn
    await rig.turn_result("kitchen", "The oven is broken.", "Sorry to hear that.")
    await stored(rig, "kitchen", "The oven is broken.")

    for unrelated in ["Set a timer for the pasta, please.", "What is the current time?",
                      "What is my locker code?"]:
        _, results = await rig.ask("kitchen", unrelated)
        texts = [h.text for h in results.hits]
        assert first not in texts and question not in texts, texts  # neither reply nor question
        assert {h.role for h in results.hits} <= {"user", "fact", "note"}, results.hits
        assert {h.site_id for h in results.hits} <= {"kitchen"}, results.hits
        assert not any("4711" in t for t in texts)  # the hall's conversation stays in the hall
    _, results = await rig.ask("kitchen", "Who is my sister?")
    assert "My sister is called Ada." in [h.text for h in results.hits]
