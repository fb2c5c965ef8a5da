"""Character profile: packaged defaults, validated updates that survive a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tars_memory import CharacterError, CharacterRepository, load_profile


def test_default_profile_is_tars() -> None:
    profile = load_profile()
    assert profile.name == "TARS"
    assert profile.settings["honesty"] == 90 and profile.settings["humour"] == 75
    assert "concise" in profile.style.lower() and profile.facts
    prompt = profile.system_prompt()
    assert prompt.startswith("You are TARS.") and "honesty 90%" in prompt


def test_update_persists_across_restart(tmp_path: Path) -> None:
    db = tmp_path / "memory.sqlite3"
    repo = CharacterRepository(db)
    updated = repo.update({"settings": {"humour": 60}, "facts": ["The user's name is Ada."]})
    assert updated.settings == {"honesty": 90, "humour": 60, "discretion": 90}
    repo.close()
    repo = CharacterRepository(db)
    again = repo.load()
    assert again.settings["humour"] == 60 and again.facts == ("The user's name is Ada.",)
    assert again.name == "TARS"
    assert repo.reset().settings["humour"] == 75
    repo.close()
    assert CharacterRepository(db).load().settings["humour"] == 75


@pytest.mark.parametrize(
    "change", [{"settings": {"honesty": 101}}, {"name": ""}, {"laser_eyes": True}]
)
def test_invalid_updates_rejected(tmp_path: Path, change: dict[str, object]) -> None:
    repo = CharacterRepository(tmp_path / "c.sqlite3")
    with pytest.raises(CharacterError):
        repo.update(change)
    assert repo.load().settings["honesty"] == 90
    repo.close()


def test_custom_toml_and_bad_file(tmp_path: Path) -> None:
    custom = tmp_path / "c.toml"
    custom.write_text('name = "CASE"\nstyle = "Terse."\n[settings]\nhonesty = 100\n')
    assert load_profile(custom).name == "CASE"
    custom.write_text("name = [")
    with pytest.raises(CharacterError):
        load_profile(custom)
