"""Character: packaged defaults, validated updates that survive a restart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tars_memory import CharacterError, CharacterRepository, load_character


def test_default_character_is_tars() -> None:
    character = load_character()
    assert character.name == "TARS"
    assert character.traits["honesty"] == 90 and character.traits["humour"] == 75
    assert "concise" in character.style.lower() and character.facts
    assert character.greeting.startswith("TARS online.")


def test_update_persists_across_restart(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    repo = CharacterRepository(db)
    updated = repo.update({"traits": {"humour": 60}, "facts": ["The user's name is Ada."]})
    assert updated.traits == {"honesty": 90, "humour": 60, "discretion": 90}
    repo.close()
    repo = CharacterRepository(db)
    again = repo.load()
    assert again.traits["humour"] == 60 and again.facts == ["The user's name is Ada."]
    assert again.name == "TARS"
    assert repo.reset().traits["humour"] == 75
    repo.close()
    assert CharacterRepository(db).load().traits["humour"] == 75


def test_dials_stored_under_their_old_key_still_apply(tmp_path: Path) -> None:
    """Earlier versions stored the dials under ``settings``: such a row is read as ``traits``,
    and a later update (stored under ``traits``) wins over it."""
    db = tmp_path / "character.sqlite3"
    CharacterRepository(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO character_overrides(key, value) VALUES('settings', ?)",
                     (json.dumps({"honesty": 60, "humour": 75, "discretion": 90}),))
    repo = CharacterRepository(db)
    assert repo.load().traits["honesty"] == 60
    assert repo.update({"traits": {"humour": 10}}).traits == {"honesty": 60, "humour": 10,
                                                              "discretion": 90}
    repo.close()
    assert CharacterRepository(db).load().traits == {"honesty": 60, "humour": 10, "discretion": 90}


@pytest.mark.parametrize(
    "change", [{"traits": {"honesty": 101}}, {"name": ""}, {"laser_eyes": True}]
)
def test_invalid_updates_rejected(tmp_path: Path, change: dict[str, object]) -> None:
    repo = CharacterRepository(tmp_path / "c.sqlite3")
    with pytest.raises(CharacterError):
        repo.update(change)
    assert repo.load().traits["honesty"] == 90
    repo.close()


def test_custom_toml_and_bad_file(tmp_path: Path) -> None:
    custom = tmp_path / "c.toml"
    custom.write_text('name = "CASE"\nstyle = "Terse."\n[settings]\nhonesty = 100\n')
    assert load_character(custom).name == "CASE"
    assert load_character(custom).traits == {"honesty": 100}
    custom.write_text("name = [")
    with pytest.raises(CharacterError):
        load_character(custom)
    with pytest.raises(CharacterError):
        load_character(tmp_path / "missing.toml")
