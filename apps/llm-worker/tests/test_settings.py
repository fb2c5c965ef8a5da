"""Settings: a bad value stops the worker with one line naming the setting; the character file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tars_llm.persona import load_character_file
from tars_llm.prompt import CharacterProfile

REPO = Path(__file__).resolve().parents[3]


def test_bad_value_is_one_line_naming_the_setting() -> None:
    env = {**os.environ, "TARS_N_CTX": "lots", "TARS_MQTT_URL": "mqtt://127.0.0.1:1"}
    out = subprocess.run([sys.executable, "-m", "tars_llm"], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "llm.n_ctx" in lines[0] and "TARS_N_CTX" in lines[0]


def test_shipped_character_file_gives_the_persona() -> None:
    profile = load_character_file(REPO / "config" / "character.toml")
    prompt = profile.system_prompt()
    assert profile.name == "TARS" and prompt.startswith("You are TARS. Dry, deadpan humour.")
    assert dict(profile.traits) == {"honesty": 90, "humour": 75, "discretion": 90}
    assert "honesty 90%" in prompt and "no markdown" in prompt


def test_missing_character_file_falls_back(tmp_path: Path) -> None:
    assert load_character_file(tmp_path / "none.toml") == CharacterProfile()
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    assert load_character_file(bad) == CharacterProfile()
