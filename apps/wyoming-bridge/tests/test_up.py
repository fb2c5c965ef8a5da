"""`tars up` starts the bridge only when asked: `--with wyoming` or `[wyoming] enabled = true`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tars.stack.workers import WorkerSpec, installed_workers, select

WORKERS = [WorkerSpec("stt", "tars_stt"), WorkerSpec("tts", "tars_tts"),
           WorkerSpec("wyoming", "tars_wyoming")]


def names(workers: list[WorkerSpec]) -> list[str]:
    return [w.name for w in workers]


def test_the_bridge_is_an_installed_worker() -> None:
    assert WorkerSpec("wyoming", "tars_wyoming") in installed_workers()


def test_left_out_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "tars.toml"
    config.write_text("[wyoming]\nenabled = false\n")
    monkeypatch.setenv("TARS_CONFIG", str(config))
    assert names(select(WORKERS, [], [])) == ["stt", "tts"]
    assert names(select(WORKERS, [], [], ["wyoming"])) == ["stt", "tts", "wyoming"]
    assert names(select(WORKERS, ["stt"], [], ["wyoming"])) == ["stt", "wyoming"]
    assert names(select(WORKERS, ["wyoming"], [])) == ["wyoming"]


def test_enabled_in_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "tars.toml"
    config.write_text("[wyoming]\nenabled = true\nasr_port = 10300\n")
    monkeypatch.setenv("TARS_CONFIG", str(config))
    assert names(select(WORKERS, [], [])) == ["stt", "tts", "wyoming"]
    assert names(select(WORKERS, [], ["wyoming"])) == ["stt", "tts"]
    with pytest.raises(ValueError, match="unknown worker"):
        select(WORKERS, [], [], ["nope"])
