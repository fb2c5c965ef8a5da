"""Worker pools for `tars up --scale ROLE=N,...`: the extra worker processes and their env."""

from __future__ import annotations

from tars.contracts import topics as T
from tars.runtime.pool import member_name
from tars.stack.workers import WorkerSpec

MAX_POOL = 16
POOLED = tuple(r for r in T.SERVICES if any(r in (*s.shared, *s.by_site) for s in T.ALL))
"""Roles whose requests a pool splits (declared on their topics); others would do work twice."""
MEMBER_ENV = {"stt": {"TARS_AUDIO_SOURCE": "mqtt"}, "tts": {"TARS_SINK": "mqtt"}}
"""The machine's own microphone and speaker stay with the first member of a pool."""


def parse_scale(text: str | None) -> dict[str, int]:
    """``"llm=2,stt=2"`` -> ``{"llm": 2, "stt": 2}``; raises ValueError (one line) when bad."""
    out: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        role, sep, count = item.partition("=")
        role = role.strip()
        if not sep or not count.strip().isdigit():
            raise ValueError(f"--scale: expected ROLE=N[,ROLE=N...], got {item!r}")
        if role not in POOLED:
            raise ValueError(f"--scale: {role!r} cannot run as a pool (roles that can: {', '.join(POOLED)})")
        n = int(count)
        if not 1 <= n <= MAX_POOL:
            raise ValueError(f"--scale: {role}={n}: a pool has 1 to {MAX_POOL} members")
        out[role] = n
    return out


def expand(workers: list[WorkerSpec], scale: dict[str, int]) -> list[WorkerSpec]:
    """Each scaled worker followed by its pool members (``llm``, ``llm-2``, ...), same module."""
    out: list[WorkerSpec] = []
    for w in workers:
        out += [WorkerSpec(member_name(w.name, i), w.module) for i in range(scale.get(w.name, 1))]
    return out


def pool_env(workers: list[WorkerSpec], scale: dict[str, int]) -> dict[str, dict[str, str]]:
    """``TARS_POOL_SIZE`` / ``TARS_POOL_INDEX`` for every member of a scaled role."""
    env: dict[str, dict[str, str]] = {}
    for role, size in scale.items():
        for i in range(size):
            name = member_name(role, i)
            if any(w.name == name for w in workers):
                env[name] = {"TARS_POOL_SIZE": str(size), "TARS_POOL_INDEX": str(i),
                             **(MEMBER_ENV.get(role, {}) if i else {})}
    return env

