"""The character: defaults from TOML, user changes persisted in SQLite."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from tars.contracts.character import Character
from tars.contracts.character_file import character_from_table, read_character

from .errors import CharacterError
from .files import private_file


def default_character_file() -> Path:
    """The packaged default character.toml."""
    return Path(str(resources.files("tars_memory") / "data" / "character.toml"))


def load_character(path: Path | None = None) -> Character:
    """The character in a TOML file (the packaged default without ``path``). Raises CharacterError."""
    source = path or default_character_file()
    try:
        return read_character(source)
    except (OSError, ValueError) as exc:
        raise CharacterError(f"invalid character file {source}: {exc}") from exc


LEGACY_KEYS = {"settings": "traits"}
"""Override keys written by earlier versions, and the field each one now is."""


class CharacterRepository:
    """The current character = TOML defaults + overrides (one row per field) in a SQLite table."""

    def __init__(self, db_path: Path, defaults: Path | None = None) -> None:
        private_file(db_path)
        self._defaults = defaults
        self._conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS character_overrides "
            "(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )

    def _overrides(self) -> dict[str, Any]:
        rows = self._conn.execute("SELECT key, value FROM character_overrides").fetchall()
        stored = {str(k): json.loads(v) for k, v in rows}
        for old, new in LEGACY_KEYS.items():
            if old in stored:
                value = stored.pop(old)
                stored.setdefault(new, value)  # a row under the new key was written later
        return stored

    def load(self) -> Character:
        """The effective character. Raises CharacterError."""
        base = load_character(self._defaults).model_dump()
        base.update(self._overrides())
        try:
            return character_from_table(base)
        except ValueError as exc:
            raise CharacterError(f"stored character overrides are invalid: {exc}") from exc

    def update(self, changes: Mapping[str, Any]) -> Character:
        """Apply and persist changes (Character fields); ``traits`` merges dial by dial.
        Raises CharacterError."""
        current = self.load()
        merged = dict(changes)
        if "traits" in merged:
            merged["traits"] = {**current.traits, **dict(merged["traits"])}
        try:
            character = character_from_table({**current.model_dump(), **merged})
        except ValueError as exc:
            raise CharacterError(f"invalid character update: {exc}") from exc
        dumped = character.model_dump(mode="json")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT INTO character_overrides(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(dumped[key])) for key in merged],
            )
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")
        return character

    def reset(self) -> Character:
        """Drop every override and return the TOML defaults."""
        self._conn.execute("DELETE FROM character_overrides")
        return self.load()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
