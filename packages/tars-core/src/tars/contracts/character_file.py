"""The character file (TOML): the persona's defaults, read and checked into a Character."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tars.contracts.character import Character

DIALS_TABLE = "settings"
"""The file's name for the percent dials (``traits`` on the bus; both are accepted)."""


def character_from_table(table: Mapping[str, Any]) -> Character:
    """Check a character file's table: ``name``, ``style``, ``greeting``, ``facts`` (a list,
    or one text) and the percent dials (0-100) under ``[settings]`` or ``[traits]``.

    Raises ValueError (pydantic's ValidationError is one) naming what is wrong: an unknown
    key, an empty name, a dial outside 0-100, a value of the wrong type."""
    data = dict(table)
    if DIALS_TABLE in data:
        if "traits" in data:
            raise ValueError(f"give the dials under [{DIALS_TABLE}] or [traits], not both")
        data["traits"] = data.pop(DIALS_TABLE)
    unknown = sorted(set(data) - set(Character.model_fields))
    if unknown:
        raise ValueError(f"unknown character field(s): {', '.join(unknown)}")
    if isinstance(data.get("facts"), str):
        data["facts"] = [data["facts"]]
    character = Character.model_validate(data)
    if not character.name.strip():
        raise ValueError("the character's name is empty")
    bad = {dial: pct for dial, pct in character.traits.items() if not 0 <= pct <= 100}
    if bad:
        raise ValueError("dials are percentages 0-100: "
                         + ", ".join(f"{dial} = {pct}" for dial, pct in sorted(bad.items())))
    return character


def read_character(path: Path) -> Character:
    """The character in the TOML file ``path``.

    Raises OSError (missing or unreadable) or ValueError (not UTF-8 TOML, or not a valid
    character: see ``character_from_table``)."""
    return character_from_table(tomllib.loads(path.read_text("utf-8")))
