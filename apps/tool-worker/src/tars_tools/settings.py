"""Settings of the tool worker (section ``[tools]`` of config/tars.toml, env ``TARS_<FIELD>``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from tars.runtime.settings import CoreSettings
from tars_tools.mcp_config import McpServerConfig


class Settings(CoreSettings):
    """Tool worker settings; MCP servers are a toml list of tables ``[[tools.mcp_servers]]``."""

    section: ClassVar[str] = "tools"

    data_dir: Path = Field(default=Path("~/.local/share/tars"),
                           description="Where timers.sqlite lives (created if missing)")
    timers_db: Path | None = Field(default=None, description="Timer database; default data_dir/timers.sqlite")
    call_timeout_s: float = Field(default=20.0, gt=0, description="Upper bound of one tool call")
    memory_timeout_s: float = Field(default=3.0, gt=0, description="Wait for the memory worker")
    late_grace_s: float = Field(default=3600.0, ge=0,
                                description="Announce timers missed while down if at most this late")
    mcp_servers: list[McpServerConfig] = Field(default_factory=list)

    def timers_path(self) -> Path:
        """The timer database file."""
        path = self.timers_db or (self.data_dir / "timers.sqlite")
        return path.expanduser()
