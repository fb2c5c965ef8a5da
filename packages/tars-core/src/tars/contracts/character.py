"""Character (persona) payloads."""

from __future__ import annotations

from tars.contracts.envelope import Payload


class Character(Payload):
    name: str = "TARS"
    style: str = ""
    greeting: str = ""
    facts: list[str] = []
    traits: dict[str, int] = {}


class CharacterUpdate(Payload):
    """Change one field (``traits.humor`` for a trait) or add/remove a fact."""

    field: str
    value: str | int | list[str]
