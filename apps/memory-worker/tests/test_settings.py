"""Settings: each engine knob is declared once (tars_memory.config) and the shipped config agrees."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from tars_memory.config import (
    EmbedderConfig,
    EmbedderOptions,
    IndexConfig,
    StoreConfig,
    StoreOptions,
)
from tars_memory.settings import Settings

REPO = Path(__file__).resolve().parents[3]
SHARED = [(options, config, name) for options, config in (
    (EmbedderOptions, EmbedderConfig), (StoreOptions, StoreConfig)) for name in options.model_fields]


def _declared(model: type[BaseModel], name: str) -> tuple[object, ...]:
    field = model.model_fields[name]
    return field.annotation, field.default, field.metadata, field.description


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TARS_* variable and no config/tars.toml: only the declared defaults."""
    for name in [n for n in os.environ if n.startswith("TARS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("options", "config", "name"), SHARED, ids=[n for *_, n in SHARED])
def test_an_engine_knob_is_not_declared_again(options: type[BaseModel], config: type[BaseModel],
                                              name: str) -> None:
    assert _declared(Settings, name) == _declared(options, name) == _declared(config, name)


def test_the_engine_gets_what_the_settings_say(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.embedder() == EmbedderConfig()
    assert settings.store() == StoreConfig(path=settings.folder())
    monkeypatch.setenv("TARS_FLUSH_INTERVAL_S", "7.5")
    monkeypatch.setenv("TARS_BATCH_WAIT_MS", "2")
    settings = Settings()
    assert (settings.store().flush_interval_s, settings.embedder().batch_wait_ms) == (7.5, 2.0)
    monkeypatch.setenv("TARS_FLUSH_INTERVAL_S", "0")  # the flush loop needs a positive interval
    with pytest.raises(ValueError, match="flush_interval_s"):
        Settings()
    with pytest.raises(ValueError, match="flush_interval_s"):
        StoreConfig(path=bare, flush_interval_s=0)


def test_shipped_config_states_the_defaults() -> None:
    section = tomllib.loads((REPO / "config" / "tars.toml").read_text())["memory"]
    for key, value in section.items():
        assert key in Settings.model_fields, key
        default = Settings.model_fields[key].default
        if isinstance(default, IndexConfig):
            assert default.model_dump(include=set(value)) == value, key
        else:
            assert (str(default) if isinstance(default, Path) else default) == value, key
