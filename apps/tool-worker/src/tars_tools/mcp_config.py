"""Configuration of the MCP servers the tool worker connects to."""

from __future__ import annotations

import random
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

QUALIFIER = "__"
"""Separator of server and tool in exposed names (``weather__forecast``); OpenAI-safe."""


class BackoffPolicy(BaseModel):
    """Exponential backoff with jitter between restarts of a failed server.

    The n-th consecutive failure waits ``min(max_s, initial_s * 2**n)`` scaled by a random
    factor in ``[1 - jitter, 1 + jitter]``. The count resets once a connection has stayed up
    for ``reset_after_s``, so a server that crashes right after start keeps backing off.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_s: float = Field(default=0.5, gt=0)
    max_s: float = Field(default=30.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, lt=1)
    reset_after_s: float = Field(default=10.0, ge=0)

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0-based)."""
        base: float = min(self.max_s, self.initial_s * 2.0 ** min(failures, 30))
        factor: float = rng.uniform(1 - self.jitter, 1 + self.jitter)
        return base * factor


class McpServerConfig(BaseModel):
    """One MCP server: either a stdio ``command`` (+ ``args``, ``env``, ``cwd``) or an HTTP ``url``.

    Only tools named in ``allow_tools`` are exposed (``["*"]`` exposes all); they appear as
    ``<name>__<tool>``. Each call is bounded by ``call_timeout_s``; a live connection is
    pinged every ``ping_interval_s`` (0 disables) so that a hung server is restarted too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$", max_length=32)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    allow_tools: list[str] = Field(default_factory=list)
    call_timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=20.0, gt=0)
    ping_interval_s: float = Field(default=15.0, ge=0)
    backoff: BackoffPolicy = BackoffPolicy()

    @model_validator(mode="after")
    def _one_transport(self) -> Self:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"server {self.name!r}: set exactly one of 'command' or 'url'")
        if QUALIFIER in self.name:
            raise ValueError(f"server name may not contain {QUALIFIER!r}")
        return self

    def allows(self, tool: str) -> bool:
        """Is ``tool`` on this server's allowlist?"""
        return "*" in self.allow_tools or tool in self.allow_tools

    def qualified(self, tool: str) -> str:
        """The exposed name of ``tool``."""
        return f"{self.name}{QUALIFIER}{tool}"
