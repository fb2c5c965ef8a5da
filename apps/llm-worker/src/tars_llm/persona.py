"""The persona: read from the character file at start, replaced by the retained current one."""

from __future__ import annotations

import logging
from pathlib import Path

from tars.contracts.character import Character
from tars.contracts.character_file import read_character
from tars_llm.prompt import builtin_character

log = logging.getLogger(__name__)


def load_character_file(path: Path) -> Character:
    """The character in ``path`` (TOML); the built-in persona when it is missing or invalid."""
    try:
        character = read_character(path)
    except FileNotFoundError:
        log.warning("no character file at %s: using the built-in persona", path)
        return builtin_character()
    except OSError as exc:
        log.warning("character file %s unreadable (%s): using the built-in persona", path, exc)
        return builtin_character()
    except ValueError as exc:
        log.warning("character file %s invalid (%s): using the built-in persona", path, exc)
        return builtin_character()
    return with_defaults(character, builtin_character())


def with_defaults(character: Character, base: Character) -> Character:
    """``character`` with the name and style of ``base`` where its own are empty."""
    return character.model_copy(update={"name": character.name or base.name,
                                        "style": character.style or base.style})
