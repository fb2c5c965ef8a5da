"""The character file: one loader for every worker, checked the same way for all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tars.contracts.character import Character
from tars.contracts.character_file import character_from_table, read_character

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_character_files_load() -> None:
    for path in (REPO / "config" / "character.toml",
                 REPO / "apps" / "memory-worker" / "src" / "tars_memory" / "data" / "character.toml"):
        character = read_character(path)
        assert character.name == "TARS" and character.greeting and character.facts, path
        assert character.traits == {"honesty": 90, "humour": 75, "discretion": 90}, path


def test_the_dials_table_is_settings_or_traits() -> None:
    assert character_from_table({"settings": {"humour": 60}}).traits == {"humour": 60}
    assert character_from_table({"traits": {"humour": 60}}).traits == {"humour": 60}
    with pytest.raises(ValueError, match="not both"):
        character_from_table({"settings": {"humour": 60}, "traits": {"humour": 10}})


def test_one_fact_may_be_a_plain_text() -> None:
    assert character_from_table({"facts": "I run offline."}).facts == ["I run offline."]


def test_defaults_are_the_contracts() -> None:
    assert character_from_table({}) == Character()


@pytest.mark.parametrize(("table", "says"), [
    ({"name": "CASE", "stlye": "Terse."}, "stlye"),
    ({"name": " "}, "name"),
    ({"settings": {"honesty": 101, "humour": -1}}, "honesty = 101, humour = -1"),
    ({"facts": [["nested"]]}, "facts"),
    ({"settings": {"humour": "lots"}}, "humour"),
])
def test_a_bad_table_is_refused_with_its_reason(table: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        character_from_table(table)


def test_read_errors_are_os_or_value_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_character(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = [")
    with pytest.raises(ValueError):
        read_character(broken)
    broken.write_bytes(b'name = "\xff"\n')
    with pytest.raises(ValueError):
        read_character(broken)
