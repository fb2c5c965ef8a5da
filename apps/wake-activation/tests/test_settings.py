"""Settings: the detector's knobs are declared once (WakeSettings, table ``[wake.detector]``),
the shipped config states the defaults, and a bad or unknown setting is one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tars.runtime import load_settings
from tars.runtime.errors import ConfigError
from tars_wake.detector import WakeSettings
from tars_wake.settings import Settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TARS_* variable and no config/tars.toml: only the declared defaults."""
    for name in [n for n in os.environ if n.startswith("TARS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_a_detector_knob_is_not_declared_again() -> None:
    field = Settings.model_fields["detector"]
    assert field.annotation is WakeSettings and field.default == WakeSettings()
    assert set(Settings.model_fields).isdisjoint(WakeSettings.model_fields)


def test_the_detector_gets_what_the_settings_say(bare: None, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    assert Settings().detector == WakeSettings()
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tars.toml").write_text(
        '[wake.detector]\nmodels = ["alexa", "hey_jarvis"]\nrefractory_s = 1.0\n')
    monkeypatch.setenv("TARS_DETECTOR__THRESHOLD", "0.7")
    assert Settings().detector == WakeSettings(models=("alexa", "hey_jarvis"), threshold=0.7,
                                               refractory_s=1.0)


def test_shipped_config_states_the_defaults() -> None:
    section = tomllib.loads((REPO / "config" / "tars.toml").read_text())["wake"]
    for key, value in section.items():
        assert key in Settings.model_fields, key
        if key == "detector":
            for name, given in value.items():
                default = getattr(WakeSettings(), name)
                assert (list(default) if isinstance(default, tuple) else default) == given, name
        else:
            default = Settings.model_fields[key].get_default(call_default_factory=True)
            assert default == value, key


def test_an_old_key_is_an_error(bare: None, tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "tars.toml").write_text("[wake]\nthreshold = 0.6\n")
    with pytest.raises(ConfigError, match=r"wake\.threshold .*not a setting"):
        load_settings(Settings)


def test_bad_value_is_one_line_naming_the_setting() -> None:
    env = {**os.environ, "TARS_DETECTOR__THRESHOLD": "2", "TARS_MQTT_URL": "mqtt://127.0.0.1:1"}
    out = subprocess.run([sys.executable, "-m", "tars_wake"], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "wake.detector.threshold" in lines[0], out.stderr
    assert "TARS_DETECTOR__THRESHOLD" in lines[0]
