"""The memory worker's handlers on the InMemoryBus, with the model-free hashing embedder."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from tars.contracts import Envelope, encode
from tars.contracts import topics as T
from tars.contracts.character import CharacterUpdate
from tars.contracts.memory import MemoryFilter, MemoryForget, MemoryQuery
from tars.contracts.turn import TurnResult
from tars.runtime import InMemoryBroker, InMemoryBus, Service, load_settings
from tars_memory.service import build_with
from tars_memory.settings import Settings
from tars_memory.testing import HashingEmbedder, MemoryClient


def settings_for(folder: Path) -> Settings:
    return load_settings(Settings, data_dir=folder, character_file=folder / "missing.toml",
                         min_score=0.1, flush_interval_s=1.0)


async def start_worker(broker: InMemoryBroker, folder: Path) -> Service:
    service = Service("memory", InMemoryBus(broker, client_id="memory-1"), site_id="default")
    await build_with(settings_for(folder), service, HashingEmbedder(dim=64))
    await service.start()
    return service


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
async def worker(broker: InMemoryBroker, tmp_path: Path) -> AsyncIterator[Service]:
    service = await start_worker(broker, tmp_path)
    yield service
    await service.stop()


@pytest.fixture
async def client(broker: InMemoryBroker, worker: Service) -> AsyncIterator[MemoryClient]:
    c = MemoryClient(Service("peer", InMemoryBus(broker)), timeout_s=5)
    await c.start()
    yield c
    await c.close()


async def test_ingest_dedupe_short_and_query(client: MemoryClient) -> None:
    ack = await client.remember("the blue car is parked in the garage", site="hall")
    assert ack.op == "ingest" and ack.count == 1 and ack.error is None
    again = await client.remember("The blue car is parked in the garage!", site="hall")
    assert again.ids == [] and again.stats["skipped_duplicate"] == 1
    short = await client.remember("ok")
    assert short.ids == [] and short.stats["skipped_short"] == 1
    reply = await client.recall("where is the blue car parked", k=3)
    hit = reply.payload.hits[0]
    assert (hit.id, hit.role, hit.site_id, hit.source) == (ack.ids[0], "fact", "hall", "test")
    assert reply.payload.error is None and 0 < hit.score <= 1


async def test_filters_by_site_role_and_time(client: MemoryClient) -> None:
    now = time.time()
    await client.remember("pizza dinner on friday", role="user", site="kitchen", ts=now - 3600)
    await client.remember("pizza dinner on saturday", role="assistant", site="office", ts=now)
    for flt, expected in [({"site_id": "kitchen"}, "friday"), ({"role": "assistant"}, "saturday"),
                          ({"since": now - 60}, "saturday"), ({"until": now - 60}, "friday")]:
        hits = (await client.recall("pizza dinner", filter=flt)).payload.hits
        assert [h.text.split()[-1] for h in hits] == [expected], flt


async def test_engine_rejects_blank_query_with_error_reply(client: MemoryClient) -> None:
    reply = await client.query.request(MemoryQuery(text="   "), correlation_id="c0ffee")
    assert reply.payload.error == "query text is blank" and reply.correlation_id == "c0ffee"
    bad_range = await client.recall("pizza", filter={"since": 10.0, "until": 5.0})
    assert "since" in (bad_range.payload.error or "")


async def test_malformed_query_is_an_error_event_and_worker_keeps_serving(
        client: MemoryClient) -> None:
    env = Envelope(type=T.MEMORY_QUERY.type, data={"text": "", "k": 0})
    await client.service.bus.publish(T.MEMORY_QUERY.topic(), encode(env), qos=1)
    await client.service.bus.publish(T.MEMORY_QUERY.topic(), b"not json", qos=1)
    errors = [await asyncio.wait_for(client.errors.get(), 5) for _ in range(2)]
    assert {e.payload.service for e in errors} == {"memory"}
    assert {e.payload.kind for e in errors} == {"decode"}
    await client.remember("the router lives in the cupboard")
    assert (await client.recall("router cupboard")).payload.hits


async def test_forget_by_id_text_filter_and_all(client: MemoryClient) -> None:
    a = await client.remember("alpha secret code is 1234", site="a")
    await client.remember("beta secret code is 5678", site="b")
    await client.remember("gamma note about plants", role="note", site="c")
    await client.remember("delta note about trees", role="note", site="c")
    by_id = await client.forget.request(MemoryForget(ids=a.ids))
    assert (by_id.payload.op, by_id.payload.count) == ("forget", 1)
    by_text = await client.forget.request(MemoryForget(text_contains="BETA secret"))
    assert by_text.payload.count == 1
    by_filter = await client.forget.request(MemoryForget(filter=MemoryFilter(role="note")))
    assert by_filter.payload.count == 2
    nothing = await client.forget.request(MemoryForget())
    assert nothing.payload.error and nothing.payload.count == 0
    await client.remember("epsilon stays a while")
    assert (await client.forget.request(MemoryForget(all=True))).payload.count == 1
    assert (await client.count())["count"] == 0


async def test_stats_counts_roles(client: MemoryClient) -> None:
    await client.remember("the plumber comes on monday", role="note")
    await client.remember("I like green tea", role="user")
    stats = await client.count()
    assert stats["count"] == 2 and stats["count_note"] == 1 and stats["count_user"] == 1
    assert stats["dim"] == 64 and stats["db_bytes"] > 0 and stats["ingested"] == 2


async def test_turn_results_are_remembered_selectively(client: MemoryClient) -> None:
    publish = client.service.publish
    await publish(T.TURN_RESULT, TurnResult(text="my sister Alice lives in Lisbon",
                                            reply="Noted, Lisbon it is.", path="llm",
                                            reason="completed"), correlation_id="t1",
                  site_id="kitchen")
    await publish(T.TURN_RESULT, TurnResult(text="what time is it", reply="It is ten.",
                                            path="intent", intent="time", reason="completed"))
    await publish(T.TURN_RESULT, TurnResult(text="the boiler code is forty two",
                                            reply="I can't reach my language model right now.",
                                            path="error", reason="llm offline"))
    await publish(T.TURN_RESULT, TurnResult(text="tell me a long story", reply="Once upon",
                                            path="llm", reason="barge_in"))
    await publish(T.TURN_RESULT, TurnResult(text="What is 29 times 31?", reply="899.",
                                            path="llm", reason="completed"))
    for _ in range(100):  # turn ingestion has no reply: poll the count
        if (await client.count())["count"] >= 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    stats = await client.count()
    # the user's statements only: no reply, no question, no intent turn
    assert (stats["count_user"], stats["count_assistant"]) == (2, 0)
    hits = (await client.recall("sister Alice Lisbon", k=1)).payload.hits
    assert hits[0].role == "user" and hits[0].site_id == "kitchen" and hits[0].source == "turn"
    assert not [h for h in (await client.recall("what time is it", threshold=0.9)).payload.hits]


async def test_character_retained_updated_persisted(broker: InMemoryBroker, tmp_path: Path) -> None:
    worker = await start_worker(broker, tmp_path)
    client = MemoryClient(Service("peer", InMemoryBus(broker)), timeout_s=5)
    await client.start()
    first = await asyncio.wait_for(client.characters.get(), 5)
    assert first.name == "TARS" and first.traits["humour"] == 75 and first.facts
    await client.service.publish(T.CHARACTER_UPDATE, CharacterUpdate(field="traits.humour", value=60))
    await client.service.publish(T.CHARACTER_UPDATE, CharacterUpdate(field="facts.add",
                                                                      value="The user is Ada."))
    updated = [await asyncio.wait_for(client.characters.get(), 5) for _ in range(2)][-1]
    assert updated.traits["humour"] == 60 and "The user is Ada." in updated.facts
    await client.service.publish(T.CHARACTER_UPDATE, CharacterUpdate(field="traits.humour",
                                                                     value=250))
    await client.service.publish(T.CHARACTER_UPDATE, CharacterUpdate(field="laser", value="on"))
    refused = [await asyncio.wait_for(client.errors.get(), 5) for _ in range(2)]
    assert all(e.payload.kind == "request" for e in refused)
    await client.close()
    await worker.stop()
    again = await start_worker(broker, tmp_path)
    try:
        retained = broker.retained[T.CHARACTER_CURRENT.topic()]
        data = orjson.loads(retained.payload)["data"]
        assert data["traits"]["humour"] == 60 and "The user is Ada." in data["facts"]
    finally:
        await again.stop()


def test_questions_and_commands_are_not_statements() -> None:
    from tars_memory.turns import is_request

    for text in ["What is 29 times 31?", "how are you", "Set a timer for 5 minutes",
                 "turn the volume down", "is it raining", "Tell me a joke."]:
        assert is_request(text), text
    for text in ["My sister is called Ada.", "I like green tea", "the boiler code is 42"]:
        assert not is_request(text), text
