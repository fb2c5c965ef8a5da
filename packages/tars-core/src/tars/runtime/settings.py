"""Settings: defaults < config/tars.toml ([core] then the worker's section) < TARS_* env vars."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tars.runtime.errors import ConfigError

S = TypeVar("S", bound="CoreSettings")


def config_file() -> Path | None:
    """``TARS_CONFIG`` if set, else ``config/tars.toml`` below the working directory, if any."""
    env = os.environ.get("TARS_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"TARS_CONFIG: no such file {path}")
        return path
    path = Path("config") / "tars.toml"
    return path if path.is_file() else None


class _TomlSection(PydanticBaseSettingsSource):
    def __init__(self, settings_cls: type[BaseSettings], section: str) -> None:
        super().__init__(settings_cls)
        self.values: dict[str, Any] = {}
        path = config_file()
        if path is None:
            return
        try:
            doc = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        self.values.update(doc.get("core", {}))
        if section and section != "core":
            self.values.update(doc.get(section, {}))

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.settings_cls.model_config.get("extra") == "forbid":
            return dict(self.values)  # an unknown key (a renamed setting) is an error
        return {k: v for k, v in self.values.items() if k in self.settings_cls.model_fields}


class CoreSettings(BaseSettings):
    """What every worker shares. A worker subclasses this and names its ``section``.

    A nested settings model is a table (``[stt.whisper]``) and env ``TARS_<FIELD>__<KEY>``
    (``TARS_WHISPER__BEAM_SIZE``). A worker whose ``extra`` is ``"forbid"`` refuses unknown keys
    in its section."""

    model_config = SettingsConfigDict(env_prefix="TARS_", env_nested_delimiter="__", extra="ignore")
    section: ClassVar[str] = "core"

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    namespace: str = ""
    site_id: str = "default"
    log_level: str = "INFO"
    heartbeat_s: float = 10.0
    max_concurrency: int = 64
    pool_size: int = Field(default=1, ge=1, le=64)
    """Instances of this worker's role running as one pool (``tars up --scale ROLE=N``)."""
    pool_index: int = Field(default=0, ge=0, lt=64)
    """This instance's place in its pool (0-based; must be below ``pool_size``)."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSection(settings_cls, cls.section))


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build settings; a bad value raises ConfigError with one line naming the setting."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(x) for x in err["loc"])
        env = "TARS_" + "__".join(str(x) for x in err["loc"] if isinstance(x, str)).upper()
        msg = "not a setting of this worker" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(
            f"config error: {cls.section}.{name} (env {env}): {msg} (got {err.get('input')!r})"
        ) from exc
