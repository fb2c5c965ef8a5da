"""Settings: each turn window is declared once (TurnWindows) and the shipped config agrees."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tars_router.settings import Settings
from tars_router.turns import TurnConfig, TurnWindows

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TARS_* variable and no config/tars.toml: only the declared defaults."""
    for name in [n for n in os.environ if n.startswith("TARS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("name", sorted(TurnWindows.model_fields))
def test_a_turn_window_is_not_declared_again(name: str) -> None:
    shared = TurnWindows.model_fields[name]
    for model in (Settings, TurnConfig):
        field = model.model_fields[name]
        assert (field.annotation, field.default, field.metadata, field.description) == (
            shared.annotation, shared.default, shared.metadata, shared.description), model


def test_the_turn_machine_gets_what_the_settings_say(bare: None) -> None:
    assert Settings().turn_config() == TurnConfig()
    assert Settings().turn_config().think_timeout_s == 60.0
    config = Settings(think_timeout_s=12.5, history_turns=3).turn_config()
    assert (config.think_timeout_s, config.history_turns) == (12.5, 3)


def test_env_and_bounds_reach_the_windows(bare: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARS_THINK_TIMEOUT_S", "42")
    assert Settings().turn_config().think_timeout_s == 42.0
    monkeypatch.setenv("TARS_FOLLOW_UP_WINDOW_S", "-1")
    with pytest.raises(ValueError, match="follow_up_window_s"):
        Settings()


def test_shipped_config_states_the_defaults() -> None:
    section = tomllib.loads((REPO / "config" / "tars.toml").read_text())["router"]
    for key, value in section.items():
        assert key in Settings.model_fields, key
        assert Settings.model_fields[key].default == value, key
