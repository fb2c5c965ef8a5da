"""The memory worker as a real subprocess on a real broker with all-MiniLM-L6-v2."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tars.contracts import Envelope, encode
from tars.contracts import topics as T
from tars.contracts.character import CharacterUpdate
from tars.contracts.memory import MemoryAck, MemoryForget, MemoryIngest, MemoryQuery
from tars.contracts.turn import TurnResult
from tars.runtime import Service
from tars.runtime.connect import client_bus
from tars_memory.db import MemoryDB
from tars_memory.testing import MemoryClient

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]


class WorkerProcess:
    """``python -m tars_memory`` with its own data folder; restartable, killable."""

    def __init__(self, url: str, namespace: str, folder: Path) -> None:
        self.namespace = namespace
        self.data = folder / "data"
        config = folder / "tars.toml"
        config.write_text("[memory]\nflush_every = 100000\nflush_interval_s = 3600\n"
                          "min_score = 0.2\n")
        self.env = {**os.environ, "TARS_MQTT_URL": url, "TARS_NAMESPACE": namespace,
                    "TARS_CONFIG": str(config), "TARS_DATA_DIR": str(self.data),
                    "TARS_SITE_ID": "lab"}
        self.proc: subprocess.Popen[str] | None = None
        self.log: list[str] = []

    def start(self) -> None:
        self.log = []
        ready = threading.Event()
        proc = subprocess.Popen([sys.executable, "-m", "tars_memory"], env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.proc = proc

        def pump() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                self.log.append(line)
                if "Ready:" in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(180):
            proc.kill()
            pytest.fail("memory worker not ready:\n" + "".join(self.log))

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(30) == 0, "".join(self.log)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(30) == -signal.SIGKILL

    def store_line(self) -> str:
        return next(line for line in self.log if "memory store" in line)


@pytest.fixture(scope="module")
def worker(mqtt_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    w = WorkerProcess(mqtt_url, f"t{uuid.uuid4().hex[:10]}/", tmp_path_factory.mktemp("memory"))
    w.start()
    yield w
    w.stop()


async def connect(url: str, namespace: str) -> MemoryClient:
    client = MemoryClient(Service("client", client_bus(url, "client", namespace=namespace)),
                          timeout_s=15)
    await client.start()
    return client


@pytest.fixture
async def client(worker: WorkerProcess, mqtt_url: str) -> AsyncIterator[MemoryClient]:
    c = await connect(mqtt_url, worker.namespace)
    yield c
    await c.close()


FACTS = ["My sister Alice lives in Lisbon and works as a nurse.",
         "The spare house key is hidden under the blue flower pot.",
         "I am allergic to peanuts."]


async def test_remember_restart_recall_paraphrase(worker: WorkerProcess, mqtt_url: str,
                                                  client: MemoryClient) -> None:
    acks = [await client.remember(fact, site="lab") for fact in FACTS]
    assert all(a.count == 1 and a.error is None for a in acks)
    first = await asyncio.wait_for(client.characters.get(), 10)
    assert first.name == "TARS" and first.traits
    await client.service.publish(T.CHARACTER_UPDATE, CharacterUpdate(field="traits.humour", value=55))
    assert (await asyncio.wait_for(client.characters.get(), 10)).traits["humour"] == 55
    await client.close()
    worker.stop()
    worker.start()
    assert "loaded" in worker.store_line()
    again = await connect(mqtt_url, worker.namespace)
    try:
        assert (await asyncio.wait_for(again.characters.get(), 10)).traits["humour"] == 55
        for question, expected in [("In which city does my sibling live?", 0),
                                   ("where can I find the extra door key", 1),
                                   ("what food makes me sick", 2)]:
            hits = (await again.recall(question, k=3)).payload.hits
            assert hits and hits[0].text == FACTS[expected], question
            assert hits[0].id == acks[expected].ids[0] and hits[0].site_id == "lab"
    finally:
        await again.close()


async def test_kill_9_during_ingest_burst(worker: WorkerProcess, mqtt_url: str,
                                          client: MemoryClient) -> None:
    acked: dict[int, str] = {}
    enough = asyncio.Event()

    async def ingest(i: int) -> None:
        text = f"Burst note {i}: parcel {i * 7919 % 10007} went to locker {i}."
        reply = await client.ingest.request(MemoryIngest(text=text, role="note"), timeout_s=20)
        acked[reply.payload.ids[0]] = text
        if len(acked) >= 40:
            enough.set()

    tasks = [asyncio.create_task(ingest(i)) for i in range(300)]
    await asyncio.wait_for(enough.wait(), 60)
    worker.kill()
    await asyncio.gather(*tasks, return_exceptions=True)  # the rest time out or were acked
    db = MemoryDB(worker.data / "memory.sqlite3")
    try:
        assert db.integrity_ok()
        rows = db.count()
    finally:
        db.close()
    assert 40 <= len(acked) <= rows < 300 + len(FACTS)
    worker.start()
    assert any(state in worker.store_line() for state in ("reconciled", "rebuilt"))
    again = await connect(mqtt_url, worker.namespace)
    try:
        assert (await again.count())["count"] == rows
        for memory_id, text in list(acked.items())[::4]:
            hits = (await again.recall(text, k=1)).payload.hits
            assert hits and hits[0].id == memory_id and hits[0].text == text
    finally:
        await again.close()


async def test_filters_and_forget(client: MemoryClient) -> None:
    await client.remember("We keep the camping gear in the attic.", role="fact", site="attic")
    await client.remember("The camping trip is planned for August.", role="user", site="porch")
    attic = (await client.recall("where is the camping gear", filter={"site_id": "attic"}))
    assert [h.site_id for h in attic.payload.hits] == ["attic"]
    users = (await client.recall("camping plans", filter={"role": "user", "site_id": "porch"}))
    assert [h.text for h in users.payload.hits] == ["The camping trip is planned for August."]
    future = await client.recall("camping", filter={"since": 4102444800.0})
    assert future.payload.hits == [] and future.payload.error is None
    gone = await client.forget.request(MemoryForget(text_contains="camping"))
    assert gone.payload.count == 2
    assert not [h for h in (await client.recall("camping gear attic")).payload.hits
                if "camping" in h.text]


async def test_bad_queries_get_errors_and_the_worker_keeps_serving(client: MemoryClient) -> None:
    env = Envelope(type=T.MEMORY_QUERY.type, data={"text": "", "k": 500})
    await client.service.bus.publish(T.MEMORY_QUERY.topic(), encode(env), qos=1)
    error = await asyncio.wait_for(client.errors.get(), 10)
    assert error.payload.service == "memory" and error.payload.kind == "decode"
    reply = await client.query.request(MemoryQuery(text="  \n "), correlation_id="feedbeef")
    assert reply.correlation_id == "feedbeef" and reply.payload.error == "query text is blank"
    ok = await client.recall("who is allergic to peanuts")
    assert ok.payload.error is None and ok.payload.hits[0].text == FACTS[2]


async def test_turn_result_is_remembered(client: MemoryClient) -> None:
    await client.service.publish(
        T.TURN_RESULT, TurnResult(text="My dentist appointment is on Thursday at nine.",
                                  reply="Thursday at nine, noted.", path="llm", reason="completed"),
        correlation_id="turn-42", site_id="hall")
    hits = []
    for _ in range(100):  # no reply to a turn result: poll
        hits = (await client.recall("when do I see the dentist", k=2,
                                    filter={"site_id": "hall"})).payload.hits
        if hits:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    hits = (await client.recall("when do I see the dentist", k=2,
                                filter={"site_id": "hall"})).payload.hits
    # what the user said is kept, with site and time; the reply never becomes a memory
    assert [(h.role, h.source, h.site_id) for h in hits] == [("user", "turn", "hall")]


def test_cli_add_query_stats(worker: WorkerProcess, mqtt_url: str) -> None:
    tars = [str(Path(sys.executable).with_name("tars"))]
    env = {**os.environ, "TARS_NAMESPACE": worker.namespace}

    def run(*args: str) -> dict[str, object]:
        done = subprocess.run([*tars, "memory", *args, "--json", "--url", mqtt_url], env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        out: dict[str, object] = json.loads(done.stdout)
        return out

    ack = MemoryAck.model_validate(run("add", "The boiler service is due in March."))
    assert ack.count == 1
    found = run("query", "when should the heating be serviced", "--k", "2")
    hits = found["hits"]
    assert isinstance(hits, list) and hits[0]["id"] == ack.ids[0] and hits[0]["role"] == "fact"
    assert run("stats")["count"] >= 1
    forgot = run("forget", "--id", str(ack.ids[0]))
    assert forgot["count"] == 1
