"""The tars CLI against a real broker: pub -> monitor (text and --json), bench bus, config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tars.cli.render import Timelines, decode_message, render_line
from tars.contracts import Envelope, encode
from tars.runtime.bus import Message

TARS = [sys.executable, "-c", "from tars.cli.app import main; main()"]


def run_tars(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TARS, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def start_monitor(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([*TARS, "monitor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(1.5)  # connect and subscribe
    return proc


def test_pub_then_monitor_json_and_text(mqtt_url: str, namespace: str) -> None:
    mon_json = start_monitor("--url", mqtt_url, "--namespace", namespace, "--json", "--count", "2")
    mon_text = start_monitor("--url", mqtt_url, "--namespace", namespace, "--count", "2", "tars/tts/#")
    pub = run_tars("pub", "tars/tts/say", '{"text": "hello there"}', "--type", "tts.say", "--corr",
                   "abcdef123456", "--url", mqtt_url, "--namespace", namespace)
    assert pub.returncode == 0, pub.stderr
    raw = run_tars("pub", "tars/tts/say", '{"note": "second"}', "--type", "tts.say", "--url", mqtt_url,
                   "--namespace", namespace)
    assert raw.returncode == 0
    out_json, _ = mon_json.communicate(timeout=30)
    rows = [json.loads(line) for line in out_json.splitlines()]
    assert rows[0]["topic"] == "tars/tts/say" and rows[0]["data"] == {"text": "hello there"}
    assert rows[0]["correlation_id"] == "abcdef123456"
    out_text, _ = mon_text.communicate(timeout=30)
    line = next(x for x in out_text.splitlines() if "hello there" in x)
    assert "tars/tts/say" in line and "tts.say" in line and "c:abcdef12" in line


def test_monitor_shows_non_envelopes_raw() -> None:
    d = decode_message(Message("other/topic", b"plain text"))
    assert "(raw) plain text" in render_line(d).plain


def test_timeline_is_printed_when_a_turn_ends() -> None:
    tl = Timelines()
    base = 1000.0
    steps = [("stt.final", {}), ("turn.event", {"kind": "stage", "stage": "thinking"}),
             ("llm.chunk", {"seq": 0}), ("tts.status", {"event": "started"}),
             ("turn.event", {"kind": "ended", "stage": "idle", "reason": "done"})]
    out = None
    for i, (typ, data) in enumerate(steps):
        out = tl.add(Envelope(type=typ, correlation_id="c1", ts=base + i * 0.25, data=data), "t")
    assert out is not None
    text = out.plain
    assert "ended (done)" in text and "+    250 ms  turn stage: thinking" in text
    assert "+   1000 ms  turn ended: idle" in text


def test_timeline_is_anchored_at_the_end_of_speech() -> None:
    tl = Timelines()
    tl.add(Envelope(type="wake.detected", correlation_id="c2", ts=99.0, data={}), "t")
    stages = {"wake": 99.0, "speech_start": 99.5, "speech_end": 100.0, "final": 100.4,
              "first_sample": 100.9, "end": 102.0}
    out = tl.add(Envelope(type="turn.event", correlation_id="c2", ts=102.0,
                          data={"kind": "ended", "stage": "idle", "reason": "completed",
                                "stages": stages}), "t")
    assert out is not None
    text = out.plain
    assert "0 = end of speech" in text
    assert "-   1000 ms  stage wake" in text and "+      0 ms  stage speech_end" in text
    assert "+    900 ms  stage first_sample" in text


def test_pub_rejects_bad_json() -> None:
    res = run_tars("pub", "tars/x", "{nope", "--type", "x", "--url", "mqtt://127.0.0.1:1")
    assert res.returncode == 2 and "not JSON" in res.stderr


def test_bad_config_fails_with_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "tars.toml"
    cfg.write_text('[core]\nmqtt_url = "http://nope"\n')
    res = run_tars("monitor", env={"TARS_CONFIG": str(cfg)})
    assert res.returncode != 0
    res = run_tars("monitor", env={"TARS_MQTT_URL": "mqtt://127.0.0.1:1", "TARS_HEARTBEAT_S": "soon"})
    # monitor only needs the URL; a bad unrelated value still fails fast naming the setting
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "heartbeat_s" in res.stderr


@pytest.mark.broker
def test_bench_bus_json(mqtt_url: str) -> None:
    res = run_tars("bench", "bus", "--json", "--url", mqtt_url, "--n", "200", timeout=120)
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["bench"] == "bus" and result["requests"] == 200
    assert result["leaked_futures"] == 0
    assert 0 < result["rtt_p50_ms"] <= result["rtt_p99_ms"]


def test_envelope_encoding_used_by_pub_is_decodable() -> None:
    env = Envelope(type="x", data={"a": 1})
    assert json.loads(encode(env))["data"] == {"a": 1}
