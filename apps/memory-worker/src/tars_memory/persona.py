"""The persona on the bus: publish the current character, apply CharacterUpdate messages."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from tars.contracts import topics as T
from tars.contracts.character import Character, CharacterUpdate
from tars.runtime import Inbound, Service

from .character import CharacterRepository, default_character_file
from .errors import CharacterError

log = logging.getLogger(__name__)
TEXT_FIELDS = ("name", "style", "greeting")
TRAIT_PREFIXES = ("traits.", "settings.")


def defaults_file(configured: Path) -> Path:
    """The configured character file, or the packaged default when it does not exist."""
    if configured.expanduser().is_file():
        return configured.expanduser()
    log.warning("no character file at %s: using the packaged default persona", configured)
    return default_character_file()


def changes_for(character: Character, update: CharacterUpdate) -> dict[str, Any]:
    """Translate one update into repository changes. Raises CharacterError.

    Fields: ``name`` / ``style`` / ``greeting`` (text), ``traits.<dial>`` (0-100; also
    ``settings.<dial>``), ``facts`` (the whole list), ``facts.add`` / ``facts.remove`` (one fact).
    """
    field, value = update.field.strip(), update.value
    if field in TEXT_FIELDS:
        if not isinstance(value, str):
            raise CharacterError(f"{field} takes text")
        return {field: value.strip()}
    if field.startswith(TRAIT_PREFIXES):
        dial = field.split(".", 1)[1].strip()
        try:
            pct = int(value) if not isinstance(value, list) else None
        except ValueError:
            pct = None
        if not dial or pct is None:
            raise CharacterError(f"{field} takes a whole number 0-100")
        return {"traits": {dial: pct}}
    if field == "facts":
        facts = [value] if isinstance(value, str) else value
        if not isinstance(facts, list):
            raise CharacterError("facts takes a list of texts")
        return {"facts": [str(f).strip() for f in facts if str(f).strip()]}
    if field in ("facts.add", "facts.remove"):
        if not isinstance(value, str) or not value.strip():
            raise CharacterError(f"{field} takes one fact as text")
        fact = value.strip()
        kept = [f for f in character.facts if f.casefold() != fact.casefold()]
        if field == "facts.remove" and len(kept) == len(character.facts):
            raise CharacterError(f"no such fact: {fact!r}")
        return {"facts": [*kept, fact] if field == "facts.add" else kept}
    raise CharacterError(
        f"unknown character field {field!r} (name, style, greeting, traits.<dial>, facts, "
        "facts.add, facts.remove)")


class Persona:
    """Keeps the character (TOML defaults + stored overrides) and announces it retained."""

    def __init__(self, service: Service, repo: CharacterRepository, character: Character) -> None:
        self.service = service
        self.repo = repo
        self.character = character
        self._lock = asyncio.Lock()

    async def publish(self) -> None:
        """Publish the current character (retained); also run on every reconnect."""
        await self.service.publish(T.CHARACTER_CURRENT, self.character)

    async def on_update(self, msg: Inbound[CharacterUpdate]) -> None:
        async with self._lock:
            try:
                changes = changes_for(self.character, msg.payload)
                self.character = await asyncio.to_thread(self.repo.update, changes)
            except CharacterError as exc:
                await self.service.report_error("request", f"character update refused: {exc}",
                                                topic=msg.topic, correlation_id=msg.correlation_id)
                return
            log.info("character updated: %s", msg.payload.field)
            await self.publish()
