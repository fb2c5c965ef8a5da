"""The broker access list, derived from the topic registry: exactly what each credential may do."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tars.contracts import topics as T
from tars.contracts.topics import TopicSpec

SITE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SATELLITE_PREFIX = "satellite-"
MEMBER_RE = re.compile(r"^([a-z]+)-([2-9]|[1-5][0-9]|6[0-4])$")
"""A pool member's credential: ``<role>-<n>`` (n from 2; the first member is the role itself)."""


@dataclass(frozen=True)
class Grant:
    """One ACL line: ``filter`` with ``read`` and/or ``write``."""

    filter: str
    read: bool = False
    write: bool = False

    @property
    def access(self) -> str:
        return "readwrite" if self.read and self.write else "read" if self.read else "write"


def satellite_user(site: str) -> str:
    """The credential of one satellite; ``site`` must be a plain lower-case topic level."""
    if not SITE_RE.match(site):
        raise ValueError(f"bad satellite site {site!r}: use lower-case letters, digits, - and _")
    return SATELLITE_PREFIX + site


def role_of(user: str) -> tuple[str, str | None]:
    """``(role, site)`` of a credential name; raises ValueError for an unknown one."""
    if user.startswith(SATELLITE_PREFIX):
        site = user.removeprefix(SATELLITE_PREFIX)
        satellite_user(site)
        return T.SATELLITE, site
    if user in T.SERVICES or user == T.CLI:
        return user, None
    member = MEMBER_RE.match(user)
    if member and member.group(1) in T.SERVICES:
        return member.group(1), None
    raise ValueError(f"unknown credential {user!r}")


def scoped_filter(spec: TopicSpec, user: str, *, write: bool) -> str:
    """The filter one credential gets on ``spec``: its own ``{service}`` when writing, its own
    ``{site}`` when it is a satellite, ``+`` for any other placeholder."""
    _, site = role_of(user)
    values = {}
    for name in spec.params:
        if name == "service" and write:
            values[name] = user
        elif name == "site" and site is not None:
            values[name] = site
        else:
            values[name] = "+"
    return spec.pattern.format(**values) if spec.params else spec.pattern


def grants(user: str, namespace: str = "") -> list[Grant]:
    """Every ACL line of ``user``, in registry order (cli: the whole tree)."""
    role, _ = role_of(user)
    if role == T.CLI:
        return [Grant("#", read=True, write=True)]
    lines: dict[str, Grant] = {}
    for spec in T.ALL:
        for write, roles in ((True, spec.pub), (False, spec.sub)):
            if role not in roles:
                continue
            flt = namespace + scoped_filter(spec, user, write=write)
            old = lines.get(flt, Grant(flt))
            lines[flt] = Grant(flt, read=old.read or not write, write=old.write or write)
    return list(lines.values())


def pool_members(scale: dict[str, int]) -> list[str]:
    """The extra credentials of worker pools: ``{"llm": 3}`` -> ``llm-2``, ``llm-3``. Each
    member has its own credential (the broker binds client ids to usernames) and the role's
    grants; its health topics carry its own name."""
    out = []
    for role, size in scale.items():
        if role not in T.SERVICES:
            raise ValueError(f"unknown worker role {role!r} (roles: {', '.join(T.SERVICES)})")
        out += [f"{role}-{n}" for n in range(2, size + 1)]
    for user in out:
        role_of(user)
    return out


def users(satellites: list[str] | tuple[str, ...] = (), members: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Every credential of a stack: the services, their pool members, one per satellite, and
    the operator (cli)."""
    return [*T.SERVICES, *members, *(satellite_user(s) for s in satellites), T.CLI]


def acl_text(all_users: list[str], namespace: str = "") -> str:
    """A Mosquitto ``acl_file``: one ``user`` block per credential, nothing for anyone else."""
    out = ["# Generated from the topic registry (tars.contracts.topics); do not edit by hand.",
           "# Regenerate with `tars secrets`; `tars up` writes its own copy."]
    for user in all_users:
        out += ["", f"user {user}"]
        out += [f"topic {g.access} {g.filter}" for g in grants(user, namespace)]
    return "\n".join(out) + "\n"
