"""``tars secrets``: broker passwords (``.env``) and the derived ACL (``mosquitto.acl``) for compose."""

from __future__ import annotations

import os
import secrets as rnd
from pathlib import Path
from typing import Annotated

import typer

from tars.cli.common import fail
from tars.stack import access

ENV_FILE = ".env"
ACL_FILE = "mosquitto.acl"
SATELLITES_VAR = "TARS_SATELLITES"
GATEWAY_TOKEN_VAR = "TARS_GATEWAY_TOKEN"


def env_var(user: str) -> str:
    """``TARS_PASSWORD_<USER>`` (``satellite-living-room`` -> ``..._SATELLITE_LIVING_ROOM``)."""
    return "TARS_PASSWORD_" + user.upper().replace("-", "_")


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.lstrip().startswith("#"):
                values[key.strip()] = value.strip().strip('"')
    return values


def write_secrets(directory: Path, satellites: list[str]) -> tuple[Path, Path, list[str]]:
    """Keep every password already in ``.env``, add the missing ones, and write the ACL for the
    resulting credentials. Returns the two files and the credentials that are new."""
    env_path, acl_path = directory / ENV_FILE, directory / ACL_FILE
    old = read_env(env_path)
    sites = list(dict.fromkeys([*old.get(SATELLITES_VAR, "").split(), *satellites]))
    users = access.users(tuple(sites))
    if len({env_var(u) for u in users}) != len(users):
        raise ValueError("two satellite names differ only in - and _")
    new = [u for u in users if not old.get(env_var(u))]
    values = {env_var(u): old.get(env_var(u)) or rnd.token_urlsafe(18) for u in users}
    # the HTTP gateway's bearer token (docker compose passes it as TARS_API_TOKEN)
    values[GATEWAY_TOKEN_VAR] = old.get(GATEWAY_TOKEN_VAR) or rnd.token_urlsafe(24)
    lines = ["# tars broker passwords for docker compose; keep this file private.",
             *(f"{k}={v}" for k, v in values.items()), f'{SATELLITES_VAR}="{" ".join(sites)}"']
    extra = [f"{k}={v}" for k, v in old.items() if k not in values and k != SATELLITES_VAR]
    directory.mkdir(parents=True, exist_ok=True)
    tmp = env_path.with_name(ENV_FILE + ".tmp")
    tmp.write_text("\n".join([*lines, *extra]) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(env_path)
    acl_path.write_text(access.acl_text(users))
    return env_path, acl_path, new


def secrets(
    satellite: Annotated[list[str] | None, typer.Option(
        help="Add a credential for this satellite's site (repeatable): it may publish only "
             "tars/audio/<site>/mic and read only tars/audio/<site>/out")] = None,
    directory: Annotated[Path, typer.Option("--dir", help="Where .env and mosquitto.acl go")] = Path("."),
) -> None:
    """Write .env (one random MQTT password per credential and the gateway's bearer token, kept
    when present) and mosquitto.acl (the access list derived from the topic registry) for
    docker compose."""
    try:
        env_path, acl_path, new = write_secrets(directory, satellite or [])
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    added = f"new: {', '.join(new)}" if new else "no new credentials"
    typer.echo(f"wrote {env_path} (0600) and {acl_path}; {added}", err=True)
