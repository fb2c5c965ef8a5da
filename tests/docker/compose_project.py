"""Run the repo's docker-compose.yml for a test: generated passwords, and an override that puts
every worker on host networking; the broker (whose published ports compose 1.29 cannot drop for
host networking) runs the repo's own config, published on free loopback ports."""

from __future__ import annotations

import os
import re
import secrets
import shlex
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
BROKER = "mosquitto"
# generous turn timeouts: on a loaded 2-core machine a cold LLM prompt takes tens of seconds
EXTRA_ENV = {"TARS_HEARTBEAT_S": "2", "TARS_FIRST_CHUNK_TIMEOUT_S": "150", "TARS_THINK_TIMEOUT_S": "240"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def compose_command() -> list[str]:
    """``docker-compose`` (1.29) unless TARS_COMPOSE names another, e.g. ``docker compose``."""
    return shlex.split(os.environ.get("TARS_COMPOSE", "docker-compose"))


def broker_users() -> list[str]:
    acl = (ROOT / "config" / "mosquitto" / "acl").read_text()
    return re.findall(r"^user (\S+)$", acl, flags=re.M)


def has_admin_listener() -> bool:
    """Whether the repo's broker config has an operator listener (1884) apart from 1883."""
    text = (ROOT / "config" / "mosquitto.conf").read_text()
    return re.search(r"^listener 1884\b", text, flags=re.M) is not None


@dataclass
class Project:
    """One compose project (a hub, or a satellite device) with its env file and override."""

    name: str
    workdir: Path
    env: dict[str, str]
    profiles: list[str] = field(default_factory=list)
    override: Path | None = None

    @property
    def env_file(self) -> Path:
        return self.workdir / f"{self.name}.env"

    def base_args(self) -> list[str]:
        args = [*compose_command(), "--project-name", self.name, "--env-file", str(self.env_file),
                "-f", str(COMPOSE_FILE)]
        if self.override is not None:
            args += ["-f", str(self.override)]
        for p in self.profiles:
            args += ["--profile", p]
        return args

    def run(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("TARS_", "COMPOSE_"))}
        environ.update(self.env, TARS_ENV_FILE=str(self.env_file))
        res = subprocess.run([*self.base_args(), *args], cwd=ROOT, env=environ, capture_output=True,
                             text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed ({res.returncode}):\n{res.stderr[-4000:]}")
        return res

    def write_env(self) -> None:
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()))
        self.env_file.chmod(0o600)

    def resolved(self) -> dict[str, Any]:
        data: dict[str, Any] = yaml.safe_load(self.run("config").stdout)
        return data

    def services(self) -> list[str]:
        """The services `up` starts: those without a profile, or in one of ours (compose 1.29's
        `config --services` lists every profile's too)."""
        return sorted(name for name, svc in self.resolved()["services"].items()
                      if not svc.get("profiles") or set(svc["profiles"]) & set(self.profiles))

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.strip()

    def wait_healthy(self, services: list[str], timeout_s: float = 900) -> float:
        """Seconds until every service's container reports healthy."""
        t0 = time.monotonic()
        states: dict[str, str] = {}
        while time.monotonic() - t0 < timeout_s:
            for svc in services:
                cid = self.container(svc)
                states[svc] = inspect(cid, "{{.State.Health.Status}}") if cid else "absent"
            if all(s == "healthy" for s in states.values()):
                return time.monotonic() - t0
            time.sleep(3)
        logs = self.run("logs", "--tail", "40", check=False).stdout[-8000:]
        raise AssertionError(f"not healthy within {timeout_s:.0f}s: {states}\n{logs}")


def inspect(container: str, template: str) -> str:
    res = subprocess.run(["docker", "inspect", "-f", template, container], capture_output=True,
                         text=True, timeout=30)
    return res.stdout.strip() if res.returncode == 0 else "absent"


def host_override(project: Project, service_port: int) -> Path:
    """Every worker on the host's network, its broker URL on the broker's loopback port. Services
    that publish ports (the broker, an HTTP gateway) keep the compose network: compose 1.29
    refuses host networking with published ports, and an override cannot remove them."""
    services: dict[str, Any] = {}
    for name, svc in project.resolved()["services"].items():
        if name == BROKER or svc.get("ports"):
            continue
        env = {k: str(v) for k, v in (svc.get("environment") or {}).items()}
        entry: dict[str, Any] = {"network_mode": "host", "environment": dict(EXTRA_ENV)}
        url = env.get("TARS_MQTT_URL")
        if url:
            entry["environment"]["TARS_MQTT_URL"] = re.sub(r"@mosquitto:1883$", f"@127.0.0.1:{service_port}", url)
        services[name] = entry
    path = project.workdir / f"{project.name}-override.yml"
    path.write_text(yaml.safe_dump({"services": services}))
    return path


def new_passwords() -> dict[str, str]:
    return {f"TARS_PASSWORD_{u.upper().replace('-', '_')}": secrets.token_urlsafe(18) for u in broker_users()}
