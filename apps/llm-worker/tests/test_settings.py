"""Settings: each engine knob declared once; a bad value stops the worker with one line naming
the setting; the character file."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from pydantic import BaseModel

from tars.contracts.character import Character
from tars_llm.config import (
    LlamaCppConfig,
    LlamaCppOptions,
    LLMConfig,
    LLMOptions,
    OpenAICompatConfig,
    SamplingConfig,
    SamplingOptions,
)
from tars_llm.persona import load_character_file, with_defaults
from tars_llm.prompt import BUILTIN_STYLE, builtin_character, persona_prompt
from tars_llm.settings import Settings

REPO = Path(__file__).resolve().parents[3]
SHARED = [(options, config, name, name) for options, config in (
    (LLMOptions, LLMConfig), (LlamaCppOptions, LlamaCppConfig), (SamplingOptions, SamplingConfig))
    for name in options.model_fields] + [
    (OpenAICompatConfig, OpenAICompatConfig, name, f"openai_{name}")
    for name in ("base_url", "model", "api_key", "connect_timeout_s", "read_timeout_s")]


def _declared(model: type[BaseModel], name: str) -> tuple[object, ...]:
    field = model.model_fields[name]
    return field.annotation, field.default, field.metadata, field.description


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TARS_* variable and no config/tars.toml: only the declared defaults."""
    for name in [n for n in os.environ if n.startswith("TARS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(("options", "config", "name", "setting"), SHARED,
                         ids=[setting for *_, setting in SHARED])
def test_an_engine_knob_is_not_declared_again(options: type[BaseModel], config: type[BaseModel],
                                              name: str, setting: str) -> None:
    assert _declared(Settings, setting) == _declared(options, name) == _declared(config, name)


def test_the_engine_gets_what_the_settings_say(bare: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().engine_config() == LLMConfig()
    assert LLMConfig().llamacpp.n_threads == 0  # 0 = the engine picks (default_threads)
    monkeypatch.setenv("TARS_N_THREADS", "3")
    monkeypatch.setenv("TARS_OPENAI_READ_TIMEOUT_S", "9")
    monkeypatch.setenv("TARS_TOP_K", "7")
    config = Settings().engine_config()
    assert (config.llamacpp.n_threads, config.openai.read_timeout_s, config.sampling.top_k) == (
        3, 9.0, 7)


def test_shipped_config_states_the_defaults() -> None:
    section = tomllib.loads((REPO / "config" / "tars.toml").read_text())["llm"]
    for key, value in section.items():
        assert key in Settings.model_fields, key
        default = Settings.model_fields[key].default
        assert (str(default) if isinstance(default, Path) else default) == value, key


def test_bad_value_is_one_line_naming_the_setting() -> None:
    env = {**os.environ, "TARS_N_CTX": "lots", "TARS_MQTT_URL": "mqtt://127.0.0.1:1"}
    out = subprocess.run([sys.executable, "-m", "tars_llm"], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "llm.n_ctx" in lines[0] and "TARS_N_CTX" in lines[0]


def test_shipped_character_file_gives_the_persona() -> None:
    character = load_character_file(REPO / "config" / "character.toml")
    prompt = persona_prompt(character)
    assert character.name == "TARS" and prompt.startswith("You are TARS. Dry, deadpan humour.")
    assert character.traits == {"honesty": 90, "humour": 75, "discretion": 90}
    assert "honesty 90%" in prompt and "no markdown" in prompt


def test_missing_character_file_falls_back(tmp_path: Path) -> None:
    assert load_character_file(tmp_path / "none.toml") == builtin_character()
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    assert load_character_file(bad) == builtin_character()
    bad.write_text('name = "CASE"\nstyel = "typo"\n')  # what the memory worker refuses too
    assert load_character_file(bad) == builtin_character()


def test_a_character_without_name_or_style_keeps_the_current_ones(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text('facts = ["I run offline."]\n')
    assert load_character_file(plain) == Character(name="TARS", style=BUILTIN_STYLE, facts=["I run offline."])
    current = Character(name="CASE", style="Terse.")
    assert with_defaults(Character(name="", facts=["new"]), current) == Character(
        name="CASE", style="Terse.", facts=["new"])
