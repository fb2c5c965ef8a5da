"""The persona: read from the character file at start, replaced by the retained current one."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from tars.contracts.character import Character
from tars_llm.prompt import CharacterProfile

log = logging.getLogger(__name__)


def load_character_file(path: Path) -> CharacterProfile:
    """The profile in ``path`` (TOML); the built-in default when it is missing or invalid."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        log.warning("no character file at %s: using the built-in persona", path)
        return CharacterProfile()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        log.warning("character file %s unreadable (%s): using the built-in persona", path, exc)
        return CharacterProfile()
    try:
        return CharacterProfile.from_dict(data)
    except (TypeError, ValueError) as exc:
        log.warning("character file %s invalid (%s): using the built-in persona", path, exc)
        return CharacterProfile()


def profile_from_character(character: Character, base: CharacterProfile) -> CharacterProfile:
    """The profile for a published Character (instructions kept from ``base``)."""
    return CharacterProfile(
        name=character.name or base.name,
        style=character.style or base.style,
        facts=tuple(character.facts),
        instructions=base.instructions,
        traits=tuple(sorted(character.traits.items())),
    )
