"""SQLite layer of the memory store: the source of truth for texts, metadata and vectors."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

import numpy as np
import numpy.typing as npt

from .files import private_file
from .records import MemoryFilter, MemoryRecord, NewMemory, normalize_text

Vectors = npt.NDArray[np.float32]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    norm TEXT NOT NULL,
    role TEXT NOT NULL,
    site TEXT NOT NULL,
    time REAL NOT NULL,
    correlation_id TEXT,
    source TEXT,
    vector BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_norm_role ON memories(norm, role);
CREATE INDEX IF NOT EXISTS memories_site_time ON memories(site, time);
CREATE INDEX IF NOT EXISTS memories_role_time ON memories(role, time);
CREATE INDEX IF NOT EXISTS memories_time ON memories(time);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "id, text, role, site, time, correlation_id, source"


def to_blob(vector: npt.NDArray[np.float32]) -> bytes:
    """Serialise one vector as little-endian float32 bytes."""
    return np.ascontiguousarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> Vectors:
    """Stack float32 BLOBs into an (n, dim) array."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    joined = np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32)
    return joined.reshape(len(blobs), dim)


def filter_sql(flt: MemoryFilter | None) -> tuple[str, list[object]]:
    """Translate a filter into a WHERE clause (always valid, ``1`` when empty)."""
    clauses: list[str] = []
    params: list[object] = []
    if flt is not None:
        for column, value in (("site", flt.site), ("role", flt.role)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if flt.roles is not None:
            clauses.append(f"role IN ({','.join('?' * len(flt.roles))})" if flt.roles else "0")
            params.extend(flt.roles)
        if flt.since is not None:
            clauses.append("time >= ?")
            params.append(flt.since)
        if flt.until is not None:
            clauses.append("time <= ?")
            params.append(flt.until)
        if flt.contains is not None:
            clauses.append("instr(norm, ?) > 0")
            params.append(normalize_text(flt.contains))
    return (" AND ".join(clauses) or "1"), params


class MemoryDB:
    """Thin typed wrapper over one SQLite file in WAL mode (no pickle, vectors as BLOBs)."""

    def __init__(self, path: Path) -> None:
        private_file(path)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection (committed data is already durable)."""
        self._conn.close()

    def integrity_ok(self) -> bool:
        """Run SQLite's own integrity check."""
        row = self._conn.execute("PRAGMA integrity_check").fetchone()
        return bool(row and row[0] == "ok")

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        """Read one meta value."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def generation(self) -> int:
        """Counter bumped by every write transaction (compared with the index manifest)."""
        return int(self.get_meta("generation") or 0)

    def _bump(self) -> None:
        self._set_meta("generation", str(self.generation() + 1))

    def set_model(self, model: str, dim: int) -> None:
        """Record which model made the stored vectors."""
        with self._tx():
            self._set_meta("model", model)
            self._set_meta("dim", str(dim))

    # -- reads ------------------------------------------------------------------------------
    def count(self, flt: MemoryFilter | None = None) -> int:
        """Number of rows matching a filter."""
        where, params = filter_sql(flt)
        return int(self._conn.execute(f"SELECT count(*) FROM memories WHERE {where}", params)
                   .fetchone()[0])

    def stats(self) -> tuple[int, int]:
        """(row count, largest id) of the memories table."""
        row = self._conn.execute("SELECT count(*), coalesce(max(id), 0) FROM memories").fetchone()
        return int(row[0]), int(row[1])

    def ids(self, flt: MemoryFilter | None = None) -> list[int]:
        """Ids of the rows matching a filter, ascending."""
        where, params = filter_sql(flt)
        sql = f"SELECT id FROM memories WHERE {where} ORDER BY id"
        return [int(r[0]) for r in self._conn.execute(sql, params)]

    def existing_norms(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (normalized text, role) pairs are already stored."""
        found: set[tuple[str, str]] = set()
        for norm, role in keys:
            row = self._conn.execute(
                "SELECT 1 FROM memories WHERE norm = ? AND role = ?", (norm, role)
            ).fetchone()
            if row is not None:
                found.add((norm, role))
        return found

    def records(self, ids: Sequence[int]) -> dict[int, MemoryRecord]:
        """Fetch records by id (missing ids are absent from the result)."""
        out: dict[int, MemoryRecord] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT {_COLUMNS} FROM memories WHERE id IN ({marks})"
            for row in self._conn.execute(sql, chunk):
                out[int(row[0])] = MemoryRecord(
                    int(row[0]), row[1], row[2], row[3], float(row[4]), row[5], row[6]
                )
        return out

    def vectors(self, ids: Sequence[int], dim: int) -> Vectors:
        """Stored vectors of the given ids, in the same order."""
        by_id: dict[int, bytes] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT id, vector FROM memories WHERE id IN ({marks})"
            by_id.update((int(i), bytes(v)) for i, v in self._conn.execute(sql, chunk))
        return from_blobs([by_id[i] for i in ids], dim)

    def iter_vectors(self, dim: int, batch: int = 4096) -> Iterator[tuple[list[int], Vectors]]:
        """Yield (ids, vectors) batches of every row, by ascending id."""
        last = -1
        while True:
            rows = self._conn.execute(
                "SELECT id, vector FROM memories WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield [int(r[0]) for r in rows], from_blobs([bytes(r[1]) for r in rows], dim)

    def iter_texts(self, batch: int = 256) -> Iterator[tuple[list[int], list[str]]]:
        """Yield (ids, texts) batches of every row, by ascending id."""
        last = -1
        while True:
            rows = self._conn.execute(
                "SELECT id, text FROM memories WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            last = int(rows[-1][0])
            yield [int(r[0]) for r in rows], [str(r[1]) for r in rows]

    # -- writes -----------------------------------------------------------------------------
    def insert(self, items: Sequence[tuple[NewMemory, str]], vectors: Vectors) -> list[int]:
        """Insert (memory, normalized text) rows with their vectors in one transaction."""
        ids: list[int] = []
        with self._tx():
            for (item, norm), vector in zip(items, vectors, strict=True):
                cur = self._conn.execute(
                    "INSERT INTO memories(text, norm, role, site, time, correlation_id, source, "
                    "vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (item.text, norm, item.role, item.site, item.time, item.correlation_id,
                     item.source, to_blob(vector)),
                )
                ids.append(int(cur.lastrowid or 0))
            self._bump()
        return ids

    def delete(self, ids: Sequence[int]) -> list[int]:
        """Delete rows by id in one transaction; return the ids that existed."""
        gone: list[int] = []
        with self._tx():
            for i in ids:
                if self._conn.execute("DELETE FROM memories WHERE id = ?", (i,)).rowcount:
                    gone.append(i)
            if gone:
                self._bump()
        return gone

    def delete_all(self) -> int:
        """Delete every row in one transaction; return how many there were."""
        with self._tx():
            n = int(self._conn.execute("DELETE FROM memories").rowcount)
            self._bump()
        return n

    def replace_vectors(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Overwrite stored vectors (used when re-embedding); caller holds the transaction."""
        self._conn.executemany(
            "UPDATE memories SET vector = ? WHERE id = ?",
            [(to_blob(v), i) for i, v in zip(ids, vectors, strict=True)],
        )

    def _tx(self) -> _Transaction:
        return _Transaction(self._conn, self)

    def transaction(self) -> _Transaction:
        """A BEGIN IMMEDIATE ... COMMIT block that also bumps the generation."""
        return _Transaction(self._conn, self, bump=True)


class _Transaction:
    """Context manager: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on error."""

    def __init__(self, conn: sqlite3.Connection, db: MemoryDB, bump: bool = False) -> None:
        self._conn = conn
        self._db = db
        self._bump = bump

    def __enter__(self) -> Self:
        self._conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            if self._bump:
                self._db._bump()
            self._conn.execute("COMMIT")
        else:
            self._conn.execute("ROLLBACK")

    def set_meta(self, key: str, value: str) -> None:
        """Set a meta value inside this transaction."""
        self._db._set_meta(key, value)
