"""Settings: each engine knob is declared once (its engine's model, a table of ``[stt]``), the
shipped config states the defaults, and a bad or unknown setting stops the worker with one line."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from tars.runtime import load_settings
from tars.runtime.errors import ConfigError
from tars_stt.aec import AecSettings
from tars_stt.duplex import DuplexSettings
from tars_stt.endpointer import EndpointerSettings
from tars_stt.filters import EchoSettings
from tars_stt.settings import Settings
from tars_stt.transcriber import WhisperSettings

REPO = Path(__file__).resolve().parents[3]
TABLES: dict[str, type[BaseModel]] = {
    "whisper": WhisperSettings, "endpointer": EndpointerSettings, "duplex": DuplexSettings,
    "aec": AecSettings, "echo": EchoSettings}


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TARS_* variable and no config/tars.toml: only the declared defaults."""
    for name in [n for n in os.environ if n.startswith("TARS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_an_engine_knob_is_not_declared_again(table: str) -> None:
    model = TABLES[table]
    field = Settings.model_fields[table]
    assert field.annotation is model and field.default == model()
    others = set(Settings.model_fields) - set(TABLES)
    assert others.isdisjoint(model.model_fields), sorted(others & set(model.model_fields))


def test_the_engine_gets_what_the_settings_say(bare: None, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    settings = Settings()
    assert (settings.whisper, settings.duplex, settings.aec, settings.echo) == (
        WhisperSettings(), DuplexSettings(), AecSettings(), EchoSettings())
    # a transcript ends the utterance; without one, the silence is max_end_silence_s
    assert settings.endpointing() == EndpointerSettings(end_silence_s=1.2)
    assert Settings(endpoint="silence").endpointing() == EndpointerSettings()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tars.toml").write_text(
        '[stt]\nendpoint = "silence"\n[stt.whisper]\nbeam_size = 3\nlanguage = ""\n'
        "initial_prompt = \"Lights, timers.\"\n[stt.endpointer]\nend_silence_s = 0.7\n")
    monkeypatch.setenv("TARS_ENDPOINTER__PAUSE_S", "0")
    monkeypatch.setenv("TARS_AEC__ENABLED", "true")
    settings = Settings()
    assert (settings.whisper.beam_size, settings.whisper.language) == (3, None)
    assert settings.whisper.initial_prompt == "Lights, timers."  # not settable before
    assert (settings.endpointing().end_silence_s, settings.endpointer.pause_s) == (0.7, 0.0)
    assert settings.cancels_echo() and not Settings(aec={"enabled": False}).cancels_echo()


def test_shipped_config_states_the_defaults() -> None:
    section = tomllib.loads((REPO / "config" / "tars.toml").read_text())["stt"]
    for key, value in section.items():
        assert key in Settings.model_fields, key
        if key in TABLES:
            defaults = TABLES[key]()
            for name, given in value.items():
                assert getattr(defaults, name) == given, f"{key}.{name}"
        else:
            assert Settings.model_fields[key].default == value, key


def test_an_old_or_unknown_key_is_an_error(bare: None, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tars.toml").write_text("[stt]\nend_silence_s = 0.5\n")
    with pytest.raises(ConfigError, match=r"stt\.end_silence_s .*not a setting"):
        load_settings(Settings)
    (tmp_path / "config" / "tars.toml").write_text("[stt.whisper]\nbeam = 2\n")
    with pytest.raises(ConfigError, match=r"stt\.whisper\.beam \(env TARS_WHISPER__BEAM\)"):
        load_settings(Settings)


def test_bad_value_is_one_line_naming_the_setting() -> None:
    env = {**os.environ, "TARS_WHISPER__BEAM_SIZE": "lots", "TARS_MQTT_URL": "mqtt://127.0.0.1:1"}
    out = subprocess.run([sys.executable, "-m", "tars_stt"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "stt.whisper.beam_size" in lines[0], out.stderr
    assert "TARS_WHISPER__BEAM_SIZE" in lines[0]
