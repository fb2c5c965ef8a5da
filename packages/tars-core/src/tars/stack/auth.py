"""Broker credentials and the derived ACL for a local stack (nothing anonymous)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tomllib
from pathlib import Path
from urllib.parse import quote

from tars.runtime.errors import BusError
from tars.stack import access

# What each credential may publish, derived from the topic registry (tars.stack.access).
WRITES: dict[str, list[str]] = {
    u: [g.filter for g in access.grants(u) if g.write] for u in access.users()
}
ADMIN = "cli"
"""The operator credential: only on the loopback admin listener, where client ids are free."""


def acl_text(satellites: tuple[str, ...] = (), namespace: str = "",
             members: tuple[str, ...] = ()) -> str:
    """The ACL file for these credentials (the services, pool members, the satellites, cli)."""
    return access.acl_text(access.users(satellites, members), namespace)


class Credentials:
    """Passwords per credential, kept in ``<dir>/credentials.toml`` (mode 0600)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.file = directory / "credentials.toml"
        self.passwords: dict[str, str] = {}

    @property
    def satellites(self) -> tuple[str, ...]:
        return tuple(u.removeprefix(access.SATELLITE_PREFIX) for u in self.passwords
                     if u.startswith(access.SATELLITE_PREFIX))

    @property
    def members(self) -> tuple[str, ...]:
        """Pool members' credentials (``llm-2``, ...)."""
        return tuple(u for u in self.passwords if access.MEMBER_RE.match(u) and _known(u))

    def load_or_create(self, satellites: tuple[str, ...] | list[str] = (),
                       members: tuple[str, ...] | list[str] = ()) -> Credentials:
        """Read the stored passwords; add a new random one for every missing credential."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        if self.file.is_file():
            stored = tomllib.loads(self.file.read_text())
            self.passwords = {k: str(v) for k, v in stored.items() if _known(k)}
        changed = False
        wanted = access.users(tuple(dict.fromkeys([*self.satellites, *satellites])),
                              tuple(dict.fromkeys([*self.members, *members])))
        for user in wanted:
            if user not in self.passwords:
                self.passwords[user] = secrets.token_urlsafe(18)
                changed = True
        if changed:
            tmp = self.file.with_suffix(".tmp")
            tmp.write_text("".join(f'"{u}" = "{p}"\n' for u, p in self.passwords.items()))
            os.chmod(tmp, 0o600)
            tmp.replace(self.file)
        return self

    def url(self, user: str, host: str, port: int, *, scheme: str = "mqtt", query: str = "") -> str:
        auth = f"{quote(user)}:{quote(self.passwords[user], safe='')}"
        return f"{scheme}://{auth}@{host}:{port}" + (f"?{query}" if query else "")

    def write_broker_files(self, namespace: str = "") -> tuple[Path, Path, Path]:
        """Hashed password files (via mosquitto_passwd) and the ACL file: ``passwd`` holds every
        credential but the operator's, ``passwd-admin`` only the operator's."""
        exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        if not Path(exe).exists():
            raise BusError("mosquitto_passwd is missing (apt-get install mosquitto)")
        passwd, admin = self.dir / "passwd", self.dir / "passwd-admin"
        for path in (passwd, admin):
            path.write_text("")
            os.chmod(path, 0o600)
        for user, password in self.passwords.items():
            target = admin if user == ADMIN else passwd
            subprocess.run([exe, "-b", str(target), user, password], check=True, capture_output=True)
        acl = self.dir / "acl"
        acl.write_text(acl_text(self.satellites, namespace, self.members))
        os.chmod(acl, 0o600)
        return passwd, admin, acl


def _known(user: str) -> bool:
    try:
        access.role_of(user)
    except ValueError:
        return False
    return True


def stack_url_file(runtime_dir: Path) -> Path:
    """Where `tars up` leaves the operator URL so other tars commands find the running stack."""
    return runtime_dir / "cli.url"


def gateway_token_file(runtime_dir: Path) -> Path:
    """Where `tars up` keeps the HTTP gateway's bearer token."""
    return runtime_dir / "gateway.token"


def load_or_create_token(path: Path) -> str:
    """The bearer token kept in ``path`` (mode 0600); a new random one, like the broker
    passwords, when the file is missing or empty."""
    try:
        token = path.read_text().strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(token + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return token
