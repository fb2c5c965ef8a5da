"""Every `module:handler` the docs and READMEs name exists: a renamed or removed function makes an
arrow in docs/flows.md or an app README wrong, and this test says which."""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REF = re.compile(r"`(tars[a-z_]*(?:\.[a-z_][a-z0-9_]*)*):"
                 r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted((ROOT / "apps").glob("*/README.md"))]


def resolves(module: str, qualname: str) -> bool:
    """``module:qualname`` names an object; a function's part may name a function nested in it
    (a route defined inside ``build_router``)."""
    obj: object = importlib.import_module(module)
    for part in qualname.split("."):
        if isinstance(obj, types.FunctionType) and not hasattr(obj, part):
            return any(isinstance(c, types.CodeType) and c.co_name == part
                       for c in obj.__code__.co_consts)
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def test_every_named_handler_exists() -> None:
    refs = [(doc.relative_to(ROOT), m.group(1), m.group(2))
            for doc in documents() for m in REF.finditer(doc.read_text())]
    assert len(refs) > 100  # the flows and READMEs name their handlers
    broken = [f"{doc}: {mod}:{qual}" for doc, mod, qual in refs if not resolves(mod, qual)]
    assert not broken, "\n".join(broken)


def test_a_wrong_name_is_caught() -> None:
    assert resolves("tars_router.service", "Router.on_final")
    assert not resolves("tars_router.service", "Router.on_finale")
    assert resolves("tars_gateway.api", "build_router.chat")
    assert not resolves("tars_gateway.api", "build_router.chats")
