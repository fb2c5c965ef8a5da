"""`tars ask --no-llm` on a real broker: the router runs as a real subprocess and answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tars_router.answers import say_time

pytestmark = [pytest.mark.broker, pytest.mark.e2e]


def test_ask_time_through_the_router_process(mqtt_url: str, namespace: str) -> None:
    tars = Path(sys.executable).with_name("tars")
    env = {**os.environ, "TARS_NAMESPACE": namespace}
    before = datetime.now().astimezone()
    done = subprocess.run([str(tars), "ask", "what time is it", "--json", "--no-llm",
                           "--url", mqtt_url, "--timeout", "30"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["path"] == "intent" and out["intent"] == "time"
    assert out["reply"] in {say_time(before), say_time(before + timedelta(minutes=1))}
    assert len(out["correlation_id"]) == 32 and out["tools"] == []
    assert out["events"][0]["kind"] == "started" and out["events"][-1]["kind"] == "ended"
    assert out["stages"]["final"] <= out["stages"]["intent"] <= out["stages"]["end"]
    # speak was on and no TTS worker runs: the turn still ended, and says so
    assert out["spoken"] is False and out["reason"] == "completed"
