"""Character profile: defaults from TOML, user changes persisted in SQLite."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import CharacterError
from .files import private_file


class CharacterProfile(BaseModel):
    """Who tars is: name, speaking style, facts about itself, greeting and percent dials."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    style: str = ""
    greeting: str = ""
    facts: tuple[str, ...] = ()
    settings: dict[str, int] = Field(default_factory=dict)

    @field_validator("settings")
    @classmethod
    def _percentages(cls, value: dict[str, int]) -> dict[str, int]:
        for key, pct in value.items():
            if not 0 <= pct <= 100:
                raise ValueError(f"setting {key!r} must be a percentage 0-100, got {pct}")
        return value

    def system_prompt(self) -> str:
        """A compact system prompt for the chat model."""
        dials = ", ".join(f"{k} {v}%" for k, v in sorted(self.settings.items()))
        lines = [f"You are {self.name}. {self.style}".strip()]
        if dials:
            lines.append(f"Settings: {dials}.")
        lines.extend(f"- {fact}" for fact in self.facts)
        return "\n".join(lines)


def default_profile_path() -> Path:
    """The packaged default character.toml."""
    return Path(str(resources.files("tars_memory") / "data" / "character.toml"))


def load_profile(path: Path | None = None) -> CharacterProfile:
    """Read a CharacterProfile from TOML. Raises CharacterError."""
    source = path or default_profile_path()
    try:
        return CharacterProfile.model_validate(tomllib.loads(source.read_text("utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CharacterError(f"invalid character profile {source}: {exc}") from exc


class CharacterRepository:
    """The current profile = TOML defaults + overrides stored in a SQLite table."""

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
        return {str(k): json.loads(v) for k, v in rows}

    def load(self) -> CharacterProfile:
        """The effective profile. Raises CharacterError."""
        base = load_profile(self._defaults).model_dump()
        base.update(self._overrides())
        try:
            return CharacterProfile.model_validate(base)
        except ValidationError as exc:
            raise CharacterError(f"stored character overrides are invalid: {exc}") from exc

    def update(self, changes: Mapping[str, Any]) -> CharacterProfile:
        """Apply and persist changes; ``settings`` merges key by key. Raises CharacterError."""
        current = self.load()
        merged = dict(changes)
        if "settings" in merged:
            merged["settings"] = {**current.settings, **dict(merged["settings"])}
        try:
            profile = CharacterProfile.model_validate({**current.model_dump(), **merged})
        except ValidationError as exc:
            raise CharacterError(f"invalid character update: {exc}") from exc
        dumped = profile.model_dump(mode="json")
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
        return profile

    def reset(self) -> CharacterProfile:
        """Drop every override and return the TOML defaults."""
        self._conn.execute("DELETE FROM character_overrides")
        return self.load()

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()
