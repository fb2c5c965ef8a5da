"""docker-compose.yml: valid for docker-compose, and everything it names exists in the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml

from tars.stack.auth import WRITES, acl_text

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_compose_config_validates(tmp_path: Path) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose (Debian package) is needed to validate the compose file")
        pytest.skip("docker-compose is not installed")
    env = {**os.environ, **{f"TARS_PASSWORD_{u.upper()}": "x" for u in WRITES}}
    for profile in ([], ["--profile", "satellite"]):
        res = subprocess.run([exe, "-f", str(COMPOSE), *profile, "config", "-q"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr


def test_every_build_and_path_exists() -> None:
    data = load()
    volumes = set(data.get("volumes", {}))
    workers = {ep.name: ep for ep in entry_points(group="tars.workers")}
    for name, svc in data["services"].items():
        build = svc.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
            app, module = build["args"]["APP"], build["args"]["MODULE"]
            assert (ROOT / "apps" / app / "pyproject.toml").is_file(), f"{name}: no apps/{app}"
            assert (ROOT / "apps" / app / "src" / module / "__main__.py").is_file(), f"{name}: {module}"
            worker = workers.get(name.removeprefix("satellite-"))
            assert worker is not None, f"{name}: no installed worker of that name"
            assert worker.value.split(":")[0].removesuffix(".__main__") == module, name
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"{name}: {src} does not exist"
            else:
                assert src in volumes, f"{name}: volume {src} is not declared"
        health = svc.get("healthcheck", {}).get("test", [])
        if "tars.stack.healthcheck" in health:
            assert health[-1] == name.removeprefix("satellite-")


def test_broker_files_match_the_generated_acl() -> None:
    assert (ROOT / "config" / "mosquitto" / "acl").read_text() == acl_text()
    entry = (ROOT / "config" / "mosquitto" / "entrypoint.sh").read_text()
    users = entry.split("for user in ", 1)[1].split(";", 1)[0].split()
    assert sorted(users) == sorted(WRITES)
    conf = (ROOT / "config" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "acl_file" in conf and "password_file" in conf
