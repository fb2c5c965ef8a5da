"""Helpers shared by CLI commands: broker URL resolution, plugin discovery, JSON output."""

from __future__ import annotations

import os
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import orjson
import typer

from tars.runtime.errors import ConfigError
from tars.runtime.settings import CoreSettings, load_settings


def configured_url(url: str | None) -> str:
    """``--url`` if given, else ``TARS_MQTT_URL`` / config/tars.toml, else the running `tars up`
    stack's operator URL, else "" (no broker: commands that need one start a private stack or
    say so; there is no silent default broker)."""
    if url:
        return url
    if not url_is_configured():
        return running_stack_url() or ""
    try:
        return load_settings(CoreSettings).mqtt_url
    except ConfigError as exc:
        raise fail(str(exc)) from None


RUNTIME_DIR = Path(".tars/run")


def running_stack_url() -> str | None:
    """The operator URL that a running `tars up` left in its runtime folder, if any."""
    path = RUNTIME_DIR / "cli.url"
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def url_is_configured() -> bool:
    """True when the user named a broker (env or config file), not just the default."""
    if os.environ.get("TARS_MQTT_URL"):
        return True
    try:
        default: str = CoreSettings.model_fields["mqtt_url"].default
        return load_settings(CoreSettings).mqtt_url != default
    except ConfigError:
        return False


def plugins(group: str) -> dict[str, EntryPoint]:
    """Entry points that installed tars apps contribute (``tars.cli``, ``tars.bench``, ...)."""
    return {ep.name: ep for ep in entry_points(group=group)}


def print_json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"tars: {message}", err=True)
    raise typer.Exit(code)
