"""The memory worker on the bus: query, ingest, forget, stats, turn ingestion, the persona."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from tars.contracts import memory as bus
from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.memory import (
    MemoryAck,
    MemoryForget,
    MemoryIngest,
    MemoryQuery,
    MemoryResults,
    MemoryStatsRequest,
)
from tars.contracts.turn import TurnResult
from tars.runtime import ConfigError, Inbound, Service, TarsError

from .aio import AsyncMemory
from .batching import EmbedBatcher
from .bert import make_embedder
from .character import CharacterRepository
from .embedder import Embedder
from .errors import MemoryEngineError, StorageError
from .persona import Persona, defaults_file
from .records import MemoryFilter, NewMemory, ScoredRecord
from .settings import Settings
from .store import DB_FILE, INDEX_FILE, HnswMemoryStore
from .turns import memories_from_turn

log = logging.getLogger(__name__)
ROLES = ("user", "assistant", "fact", "note")


class QueryRejected(TarsError, ValueError):
    """A well-formed query this worker will not serve (the reason goes back to the caller)."""


def to_filter(flt: bus.MemoryFilter | None, contains: str | None = None) -> MemoryFilter:
    """The engine filter for a bus filter. Raises QueryRejected for an empty time range."""
    if flt is None:
        return MemoryFilter(contains=contains or None)
    if flt.since is not None and flt.until is not None and flt.since > flt.until:
        raise QueryRejected("filter.since is after filter.until")
    return MemoryFilter(site=flt.site_id, role=flt.role, since=flt.since, until=flt.until,
                        contains=contains or None,
                        roles=tuple(flt.roles) if flt.roles is not None else None)


def to_hit(hit: ScoredRecord) -> bus.MemoryHit:
    """The bus form of a search result (the one place the two meet)."""
    r = hit.record
    return bus.MemoryHit(id=r.id, text=r.text, score=round(hit.score, 4), role=r.role, site_id=r.site,
                  ts=r.time, source=r.source or "")


def store_stats(store: HnswMemoryStore, root: Path) -> dict[str, float]:
    """Counts per role, dimension, unsaved index changes and file sizes (blocking)."""
    out: dict[str, float] = {"count": store.count(), "dim": store.dim, "pending": store.pending}
    for role in ROLES:
        out[f"count_{role}"] = store.count(MemoryFilter(role=role))
    for key, name in (("db_bytes", DB_FILE), ("index_bytes", INDEX_FILE)):
        path = root / name
        out[key] = path.stat().st_size if path.exists() else 0
    return out


class MemoryWorker:
    """Handlers of the memory topics; every store call runs on the memory thread."""

    def __init__(self, service: Service, settings: Settings, memory: AsyncMemory,
                 store: HnswMemoryStore) -> None:
        self.service = service
        self.settings = settings
        self.memory = memory
        self.store = store
        self.counts = {"queries": 0, "ingested": 0, "turns": 0, "forgotten": 0, "refused": 0,
                       "storage_errors": 0}
        self.storage_problem: str | None = None
        """Why the last write failed, until a write succeeds again (also in the status)."""

    async def storage(self, exc: MemoryEngineError | None, msg: Inbound[Any]) -> None:
        """After a write: a StorageError is reported on tars/system/error and in the status
        (once per problem); the first successful write after one clears the status."""
        if not isinstance(exc, StorageError):
            if exc is None and self.storage_problem is not None:
                self.storage_problem = None
                log.info("storage writable again")
                await self._status(None)
            return
        self.counts["storage_errors"] += 1
        await self.service.report_error("dependency", f"storage: {exc}", topic=msg.topic,
                                        correlation_id=msg.correlation_id)
        if self.storage_problem is None:
            self.storage_problem = str(exc)
            await self._status(f"storage: {exc}"[:300])

    async def _status(self, reason: str | None) -> None:
        await self.service.publish(T.SYSTEM_STATUS, Status(state="online", instance=self.service.instance,
                                                           reason=reason),
                                   params={"service": self.service.name})

    async def on_query(self, msg: Inbound[MemoryQuery]) -> None:
        q = msg.payload
        k = q.k if "k" in msg.envelope.data else self.settings.default_k
        threshold = q.threshold if q.threshold != 0 else self.settings.min_score
        hits: list[bus.MemoryHit] = []
        error: str | None = None
        try:
            text = q.text.strip()
            if not text:
                raise QueryRejected("query text is blank")
            if len(text) > self.settings.max_query_chars:
                raise QueryRejected(f"query longer than {self.settings.max_query_chars} characters")
            found = await self.memory.recall(text, k, to_filter(q.filter), threshold)
            hits = [to_hit(h) for h in found]
            self.counts["queries"] += 1
        except QueryRejected as exc:
            error = str(exc)
            self.counts["refused"] += 1
        except MemoryEngineError as exc:
            error = f"memory engine failed: {exc}"
            log.error("query failed: %s", exc)
        await self.service.reply(msg, T.MEMORY_RESULTS, MemoryResults(hits=hits, error=error))

    async def on_ingest(self, msg: Inbound[MemoryIngest]) -> None:
        p = msg.payload
        item = NewMemory(p.text.strip(), role=p.role, site=msg.site_id or self.settings.site_id,
                         time=p.ts if p.ts is not None else msg.envelope.ts,
                         correlation_id=msg.correlation_id, source=p.source or "bus")
        try:
            added = await self.memory.remember([item])
        except MemoryEngineError as exc:
            log.error("ingest failed: %s", exc)
            await self.service.reply(msg, T.MEMORY_ACK, MemoryAck(op="ingest", error=str(exc)))
            await self.storage(exc, msg)
            return
        await self.storage(None, msg)  # the ack below follows the committed transaction
        self.counts["ingested"] += len(added.ids)
        ack = MemoryAck(op="ingest", count=len(added.ids), ids=list(added.ids),
                        stats={"skipped_duplicate": added.skipped_duplicate,
                               "skipped_short": added.skipped_short})
        await self.service.reply(msg, T.MEMORY_ACK, ack)

    async def on_turn(self, msg: Inbound[TurnResult]) -> None:
        items = memories_from_turn(
            msg.payload, site=msg.site_id or self.settings.site_id, when=msg.envelope.ts,
            correlation_id=msg.correlation_id, include_intents=self.settings.ingest_intent_turns)
        if not items:
            return
        try:
            added = await self.memory.remember(items)
        except MemoryEngineError as exc:
            log.error("turn %s not remembered: %s", msg.correlation_id[:8], exc)
            await self.storage(exc, msg)
            return
        await self.storage(None, msg)
        self.counts["turns"] += 1
        self.counts["ingested"] += len(added.ids)
        log.debug("turn %s: stored %d memories", msg.correlation_id[:8], len(added.ids))

    async def on_forget(self, msg: Inbound[MemoryForget]) -> None:
        p = msg.payload
        count, error = 0, None
        try:
            if p.all:
                count = await self.memory.wipe()
            else:
                if p.ids:
                    count += await self.memory.forget(p.ids)
                flt = to_filter(p.filter, p.text_contains)
                if not flt.is_empty():
                    count += await self.memory.forget_where(flt)
                elif not p.ids:
                    raise QueryRejected("nothing to forget: give ids, a filter, text_contains "
                                        "or all")
        except (QueryRejected, MemoryEngineError) as exc:
            error = str(exc)
            if isinstance(exc, StorageError):
                await self.storage(exc, msg)
        self.counts["forgotten"] += count
        await self.service.reply(msg, T.MEMORY_ACK, MemoryAck(op="forget", count=count, error=error))

    async def on_stats(self, msg: Inbound[MemoryStatsRequest]) -> None:
        try:
            stats = await self.memory.call(store_stats, self.store, self.settings.folder())
        except (MemoryEngineError, OSError) as exc:
            await self.service.reply(msg, T.MEMORY_ACK, MemoryAck(op="stats", error=str(exc)))
            return
        stats.update({k: float(v) for k, v in self.counts.items()})
        await self.service.reply(msg, T.MEMORY_ACK,
                                 MemoryAck(op="stats", count=int(stats["count"]), stats=stats))

    async def flush_loop(self) -> None:
        """Save the index when changes are older than flush_interval_s, even if writes stop."""
        while True:
            await asyncio.sleep(max(1.0, self.settings.flush_interval_s / 4))
            if await self.memory.call(self.store.flush_if_due):
                log.debug("index saved")


def open_store(settings: Settings, embedder: Embedder) -> HnswMemoryStore:
    """Load the model and open the store (blocking; run it in the memory thread)."""
    started = time.perf_counter()
    store = HnswMemoryStore(settings.store(), embedder)
    r = store.report
    log.info("memory store %s: %s, %d memories (+%d added, -%d removed) in %.1fs",
             settings.folder(), r.index_state, r.count, r.added, r.removed,
             time.perf_counter() - started)
    return store


async def build_with(settings: Settings, service: Service, embedder: Embedder) -> MemoryWorker:
    """Open the store with ``embedder`` (off the loop) and register every handler."""
    batcher = EmbedBatcher(embedder, max_batch=settings.batch_size,
                           max_wait_ms=settings.batch_wait_ms)
    loop = asyncio.get_running_loop()
    try:
        store = await loop.run_in_executor(batcher.executor, open_store, settings, embedder)
        defaults = defaults_file(settings.character_file)
        repo = await asyncio.to_thread(CharacterRepository, settings.folder() / "character.sqlite3",
                                       defaults)
        character = await asyncio.to_thread(repo.load)
    except MemoryEngineError as exc:
        await batcher.aclose()
        raise ConfigError(f"memory: {exc}") from exc
    memory = AsyncMemory(store, batcher)
    worker = MemoryWorker(service, settings, memory, store)
    persona = Persona(service, repo, character)
    service.handle(T.MEMORY_QUERY, worker.on_query)
    service.handle(T.MEMORY_INGEST, worker.on_ingest)
    service.handle(T.MEMORY_FORGET, worker.on_forget)
    service.handle(T.MEMORY_STATS, worker.on_stats)
    service.handle(T.CHARACTER_UPDATE, persona.on_update)
    if settings.ingest_turns:
        service.handle(T.TURN_RESULT, worker.on_turn)
    service.bus.on_connect(persona.publish)
    service.models = {"embedder": embedder.name, "dim": str(store.dim)}
    service.capabilities = ["memory.query", "memory.ingest", "memory.forget", "memory.stats",
                            "character"] + (["turn.ingest"] if settings.ingest_turns else [])

    async def start() -> None:
        service.spawn(worker.flush_loop(), name="memory-flush")

    service.on_start(start)
    service.add_cleanup(repo.close)
    service.add_cleanup(memory.aclose)
    return worker


async def build(settings: Settings, service: Service) -> None:
    """The worker with the configured embedding model (numpy for BERT models, else torch)."""
    await build_with(settings, service, make_embedder(settings.embedder()))
