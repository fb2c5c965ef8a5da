"""docker-compose.yml: valid for docker-compose 1.29 and compose v2, one shared image, and every
command, health check and file it names exists (the stack itself runs in `make test-docker`)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "config" / "docker" / "tars.Dockerfile"


def load() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def deps_module() -> Any:
    spec = importlib.util.spec_from_file_location("tars_docker_deps", ROOT / "config" / "docker" / "deps.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose_tools() -> list[list[str]]:
    tools = []
    if shutil.which("docker-compose"):
        tools.append(["docker-compose"])
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True,
                                                 timeout=30).returncode == 0:
        tools.append(["docker", "compose"])
    return tools


def test_compose_config_validates(tmp_path: Path) -> None:
    tools = compose_tools()
    if not tools:
        if os.environ.get("CI"):
            pytest.fail("docker-compose (Debian package) is needed to validate the compose file")
        pytest.skip("docker-compose is not installed")
    users = re.findall(r"^user (\S+)$", (ROOT / "config/mosquitto/acl").read_text(), flags=re.M)
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"TARS_PASSWORD_{u.upper().replace('-', '_')}=x\n" for u in users))
    env = {**os.environ, "TARS_ENV_FILE": str(env_file)}
    for tool in tools:
        for profile in ([], ["--profile", "satellite"]):
            res = subprocess.run([*tool, "--env-file", str(env_file), "-f", str(COMPOSE), *profile,
                                  "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True,
                                 timeout=60)
            assert res.returncode == 0, f"{' '.join(tool)}: {res.stderr}"


def test_one_image_and_every_command_is_an_installed_worker() -> None:
    data = load()
    shared = data["x-tars"]
    assert (ROOT / shared["build"]["context"] / shared["build"]["dockerfile"]) == DOCKERFILE
    assert DOCKERFILE.is_file() and "ARG BASE=" in DOCKERFILE.read_text()
    workers = {ep.name: ep for ep in entry_points(group="tars.workers")}
    volumes = set(data.get("volumes", {}))
    for name, svc in data["services"].items():
        assert svc["image"] == shared["image"] and svc["build"] == shared["build"], name
        for vol in svc.get("volumes", []):
            src = vol.split(":", 1)[0]
            if src.startswith("./"):
                assert (ROOT / src).exists(), f"{name}: {src} does not exist"
            else:
                assert src in volumes, f"{name}: volume {src} is not declared"
        health = svc["healthcheck"]["test"]
        if name == "mosquitto":
            script = svc["command"][-1]
            mounted = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"]}
            assert (ROOT / mounted[script]).is_file()
            continue
        command = svc["command"]
        assert command[:2] == ["python", "-m"], name
        worker = workers.get(name.removeprefix("satellite-"))
        assert worker is not None, f"{name}: no installed worker of that name"
        assert worker.value.split(":")[0].removesuffix(".__main__") == command[2], name
        assert health[-2:] == ["tars.stack.healthcheck", worker.name], name
        user = re.match(r"mqtt://([^:]+):", svc["environment"]["TARS_MQTT_URL"])
        assert user is not None and user.group(1) == worker.name, f"{name}: connects as its own user"


def test_image_installs_every_app_without_torch() -> None:
    reqs = deps_module().requirements(ROOT)
    names = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in reqs}
    assert not any(n.startswith("tars-") for n in names)
    assert not names & {"torch", "sentence-transformers"}  # the default embedder runs in numpy
    assert {"llama-cpp-python", "faster-whisper", "piper-tts", "sounddevice"} <= names


def test_broker_files_exist_and_nothing_is_anonymous() -> None:
    assert re.search(r"^user cli$", (ROOT / "config" / "mosquitto" / "acl").read_text(), re.M)
    conf = (ROOT / "config" / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and not re.search(r"^allow_anonymous true", conf, re.M)
    assert "password_file" in conf and "acl_file" in conf
