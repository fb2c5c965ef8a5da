"""The stack in containers (`make test-docker`): docker-compose.yml plus a host-network override,
every health check, a spoken question answered through the containers, a satellite against the
hub, a killed container healed, data kept across down/up, and a broker that wants passwords.

Not collected by `make test` (the file name does not match test_*.py): `make test-docker` names it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compose_project import BROKER, ROOT, Project, free_port, has_admin_listener, host_override, inspect, new_passwords

from tars.audio.pcm import write_wav
from tars.contracts import topics as T
from tars.contracts.tools import ToolCall, ToolResult
from tars.runtime.errors import BusError
from tars.runtime.mqtt import MqttBus
from tars.runtime.request import Requester
from tars.runtime.service import Service
from tars.stack.ephemeral import online_services
from tars.testing.speech import piper, with_silence

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(1800)]
HUB_AUDIO = ["stt", "wake", "tts"]
SATELLITE = ["satellite-stt", "satellite-wake", "satellite-tts"]
APOLOGY = "I can't reach my language model right now."


class Hub:
    def __init__(self, project: Project, service_port: int, cli_url: str, ready_s: float) -> None:
        self.project, self.service_port, self.cli_url, self.ready_s = project, service_port, cli_url, ready_s
        self.services = [s for s in project.services()]


def log(msg: str) -> None:
    print(f"[docker] {msg}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    image = os.environ.get("TARS_IMAGE", "tars:latest")
    if subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        pytest.fail(f"image {image} is missing: run `make test-docker` (it builds it)")
    work = tmp_path_factory.mktemp("compose")
    service_port, admin_port = free_port(), free_port()
    env = {**new_passwords(), "TARS_IMAGE": image, "TARS_SOUND_DEVICE": "/dev/null",
           "TARS_MQTT_PORT": str(service_port), "TARS_MQTT_ADMIN_PORT": str(admin_port)}
    project = Project(f"tarstest{os.getpid()}", work, env)
    project.write_env()
    project.override = host_override(project, service_port)
    cli_port = admin_port if has_admin_listener() else service_port
    cli_url = f"mqtt://cli:{env['TARS_PASSWORD_CLI']}@127.0.0.1:{cli_port}"
    try:
        t0 = time.monotonic()
        project.run("up", "-d", "--no-build")
        ready = project.wait_healthy(project.services())
        log(f"first start: every service healthy after {ready:.0f}s (up -d took {time.monotonic() - t0 - ready:.0f}s)")
        yield Hub(project, service_port, cli_url, ready)
    finally:
        project.run("down", "-v", "--remove-orphans", "--timeout", "20", check=False)


def tars(*args: str, cwd: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARS_")}
    return subprocess.run([sys.executable, "-c", "from tars.cli.app import main; main()", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def converse(hub: Hub, text: str, cwd: Path, site: str | None = None) -> dict[str, Any]:
    """A spoken question through `tars converse` against the containerised broker."""
    wav = write_wav(cwd / "question.wav", with_silence(piper(text), before_s=0.3, after_s=0.2))
    args = ["converse", str(wav), "--url", hub.cli_url, "--json", "--timeout", "300"]
    res = tars(*args, *(["--site", site] if site else []), cwd=cwd)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "starting" not in res.stderr, f"converse started local workers: {res.stderr}"
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    log(f"converse {text!r} -> {out['transcript']!r} / {out['reply']!r} ({out['voice_to_voice_ms']} ms)")
    return out


def test_every_service_is_healthy_in_its_container(hub: Hub) -> None:
    online = asyncio.run(online_services(hub.cli_url, wait_s=1.0))
    workers = [s for s in hub.services if s != BROKER]
    assert set(workers) <= online, f"not online on the bus: {set(workers) - online}"
    for svc in hub.services:
        assert inspect(hub.project.container(svc), "{{.State.Health.Status}}") == "healthy", svc


def test_broker_wants_passwords(hub: Hub) -> None:
    anonymous = f"mqtt://127.0.0.1:{hub.service_port}"
    wrong = f"mqtt://stt:not-the-password@127.0.0.1:{hub.service_port}"
    for url in (anonymous, wrong):
        with pytest.raises(BusError):
            asyncio.run(online_services(url, wait_s=0.2))
    assert asyncio.run(online_services(hub.cli_url, wait_s=0.5))  # the operator's password works


def assistant_name() -> str:
    return str(tomllib.loads((ROOT / "config" / "tars.toml").read_text())["router"]["assistant_name"])


def test_spoken_question_is_answered_through_the_containers(hub: Hub, tmp_path: Path) -> None:
    out = converse(hub, "Hey Jarvis. What is your name?", tmp_path)
    assert "name" in out["transcript"].lower() and "jarvis" not in out["transcript"].lower()
    assert out["reply"] and assistant_name().lower() in out["reply"].lower()
    assert out["reply_audio_s"] > 0.3  # the tts container spoke it back over MQTT audio


def test_the_llm_container_answers_a_spoken_question(hub: Hub, tmp_path: Path) -> None:
    out = converse(hub, "Hey Jarvis. What is the capital of France?", tmp_path)
    assert "france" in out["transcript"].lower()
    assert out["path"] == "llm" and out["reply"] and APOLOGY not in out["reply"]
    assert out["reply_audio_s"] > 0.3


def test_satellite_profile_answers_against_the_hub(hub: Hub, tmp_path: Path) -> None:
    """The hub's audio workers stop; a satellite device's take over, on the hub's broker."""
    sat_env = {**dict(line.split("=", 1) for line in hub.project.env_file.read_text().splitlines()),
               "TARS_HUB_HOST": "127.0.0.1", "TARS_HUB_PORT": str(hub.service_port), "TARS_SITE_ID": "porch"}
    sat = Project(f"{hub.project.name}sat", hub.project.workdir, sat_env, profiles=["satellite"])
    sat.write_env()
    sat.override = hub.project.workdir / f"{sat.name}-override.yml"
    sat.override.write_text("services:\n" + "".join(
        f"  {s}:\n    network_mode: host\n    environment: {{TARS_HEARTBEAT_S: '2'}}\n" for s in SATELLITE))
    hub.project.run("stop", *HUB_AUDIO)
    try:
        sat.run("up", "-d", "--no-build", *SATELLITE)
        ready = sat.wait_healthy(SATELLITE, timeout_s=600)
        log(f"satellite healthy after {ready:.0f}s")
        running = sat.run("ps", "--services", "--filter", "status=running").stdout.split()
        assert sorted(running) == sorted(SATELLITE)
        out = converse(hub, "Hey Jarvis. What is your name?", tmp_path, site="porch")
        assert out["reply"] and assistant_name().lower() in out["reply"].lower()
        # the satellite's own tts spoke it (on its speaker; headless: a WAV in its volume)
        assert out["voice_to_voice_ms"] is not None
        wavs = subprocess.run(["docker", "exec", sat.container("satellite-tts"), "find", "/data", "-name", "*.wav"],
                              capture_output=True, text=True, timeout=30).stdout.split()
        assert wavs, "the satellite's tts wrote no reply"
    finally:
        sat.run("down", "-v", "--timeout", "20", check=False)
        hub.project.run("start", *HUB_AUDIO)
    hub.project.wait_healthy(HUB_AUDIO, timeout_s=600)


def test_killed_container_is_restarted_and_the_stack_heals(hub: Hub, tmp_path: Path) -> None:
    cid = hub.project.container("router")
    restarts = int(inspect(cid, "{{.RestartCount}}"))
    os.kill(int(inspect(cid, "{{.State.Pid}}")), signal.SIGKILL)  # a crash, not a `docker stop`
    deadline = time.monotonic() + 120
    while int(inspect(cid, "{{.RestartCount}}")) == restarts:
        assert time.monotonic() < deadline, "the killed router was not restarted"
        time.sleep(1)
    healed = hub.project.wait_healthy(["router"], timeout_s=600)
    log(f"router restarted by docker and healthy after {healed:.0f}s")
    out = converse(hub, "Hey Jarvis. What is your name?", tmp_path)
    assert out["reply"] and assistant_name().lower() in out["reply"].lower()


async def _tool(url: str, name: str, arguments: dict[str, Any]) -> ToolResult:
    service = Service("docker-test", MqttBus(url, f"docker-test-{os.getpid()}"), announce=False)
    tools = Requester(service, T.TOOLS_CALL, T.TOOLS_RESULT, timeout_s=30)
    await service.start()
    try:
        await tools.start()
        reply = await tools.request(ToolCall(name=name, arguments=arguments))
        result: ToolResult = reply.payload
        return result
    finally:
        await tools.close()
        await service.stop()


def test_memory_and_timers_survive_down_and_up(hub: Hub, tmp_path: Path) -> None:
    fact = "My sister's name is Adalinde"
    added = tars("memory", "add", fact, "--url", hub.cli_url, "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    timer = asyncio.run(_tool(hub.cli_url, "set_timer", {"minutes": 50, "label": "sourdough"}))
    assert timer.ok, timer.error
    hub.project.run("down", "--timeout", "20")  # volumes kept
    assert hub.project.run("ps", "-q").stdout.strip() == ""
    t0 = time.monotonic()
    hub.project.run("up", "-d", "--no-build")
    hub.project.wait_healthy(hub.services)
    log(f"second start (models cached in the volume): healthy after {time.monotonic() - t0:.0f}s")
    found = tars("memory", "query", "what is my sister called", "--url", hub.cli_url, "--json", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert "Adalinde" in found.stdout
    pending = asyncio.run(_tool(hub.cli_url, "list_timers", {}))
    assert pending.ok and "sourdough" in pending.content
