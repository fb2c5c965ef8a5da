"""The web console in a real headless Chromium (Debian's, driven over CDP by playwright)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tars.audio import SAMPLE_RATE, write_wav
from tars.runtime.broker import free_port

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def question(say: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """What the fake microphone plays: a pause (the button is pressed), the question, silence."""
    voice = say("What is your name?")
    pad = np.zeros(int(0.6 * SAMPLE_RATE), dtype=np.int16)
    audio = np.concatenate([pad, voice, pad])
    path = write_wav(tmp_path_factory.mktemp("mic") / "question.wav", audio)
    return path, audio.size / SAMPLE_RATE


@pytest.fixture(scope="module")
def browser(question: tuple[Path, float], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is needed for the console tests")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    port = free_port()
    profile = tmp_path_factory.mktemp("chromium")
    proc = subprocess.Popen([
        CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={question[0]}%noloop", "--autoplay-policy=no-user-gesture-required",
        "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as pw:
            deadline = time.monotonic() + 30
            while True:
                try:
                    cdp = pw.chromium.connect_over_cdp(f"http://127.0.0.1:{port}", timeout=5000)
                    break
                except Exception:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
                    time.sleep(0.3)
            yield cdp
            cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def page(browser: Any, gateway: Any) -> Iterator[Any]:
    context = browser.contexts[0] if browser.contexts else browser.new_context()
    pg = context.new_page()
    logs: list[str] = []
    pg.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: logs.append(f"error: {e}"))
    pg.goto(f"{gateway.url}/#token={gateway.token}")
    try:
        pg.wait_for_function("window.tars && window.tars.stats.busReady && window.tars.stats.talkReady",
                             timeout=15000)
    except Exception as exc:
        raise AssertionError(f"the console did not connect: {logs}") from exc
    yield pg
    pg.close()


def test_console_shows_workers_live_bus_and_a_turn_waterfall(page: Any, gateway: Any) -> None:
    page.wait_for_selector('#workers tr[data-worker="stt"] .online', timeout=10000)
    for name in ("tts", "router", "gateway"):
        assert page.locator(f'#workers tr[data-worker="{name}"] .online').count() == 1
    assert "token" not in page.url
    env = {**os.environ, "TARS_MQTT_URL": gateway.mqtt_url, "TARS_NAMESPACE": gateway.namespace}
    res = subprocess.run([str(Path(sys.executable).with_name("tars")), "ask", "what is your name", "--no-llm", "--json",
                          "--no-speak"], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    import orjson

    cid = orjson.loads(res.stdout)["correlation_id"]
    turn = page.locator(f'.turn[data-cid="{cid}"]')
    turn.wait_for(timeout=10000)
    page.wait_for_function(f"""() => {{ const t = window.tars.state.turns.get("{cid}");
                                       return t && t.done && t.stages.length >= 2; }}""", timeout=10000)
    assert "TARS" in turn.inner_text()
    stages = turn.locator(".stage")
    names = [stages.nth(i).get_attribute("data-stage") for i in range(stages.count())]
    assert "end" in names and len(names) >= 2
    bus = page.locator("#bus")
    assert bus.locator(".line", has_text="router.text").count() >= 1
    assert bus.locator(".line", has_text="turn.result").count() >= 1
    page.fill("#filter", cid[:8])  # the filter keeps only this turn's messages
    lines = bus.locator(".line")
    assert lines.count() >= 2 and all(cid[:8] in lines.nth(i).inner_text() for i in range(lines.count()))


def test_push_to_talk_turn_from_the_fake_microphone(page: Any, question: tuple[Path, float],
                                                    tmp_path: Path) -> None:
    page.evaluate("window.tars.press()")
    page.wait_for_timeout(int(question[1] * 1000) + 300)
    page.evaluate("window.tars.release()")
    page.wait_for_function("window.tars.stats.lastReply.length > 0", timeout=30000)
    stats = page.evaluate("window.tars.stats")
    assert "name" in stats["lastTranscript"].lower()
    assert "TARS" in stats["lastReply"]
    page.wait_for_function("window.tars.stats.audioReceivedS > 0.8", timeout=20000)
    # played: the audio clock of the page ran past the end of what was scheduled
    page.wait_for_function("window.tars.audioTime() >= window.tars.stats.audioScheduledEnd", timeout=20000)
    assert "TARS" in page.locator("#reply").inner_text()
    turn = page.evaluate("[...window.tars.state.turns.values()].find(t => t.site === 'browser')")
    names = [s["name"] for s in turn["stages"]]
    assert names[0] == "wake" and "final" in names and "end" in names
    page.set_viewport_size({"width": 1100, "height": 820})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=os.environ.get("TARS_CONSOLE_SCREENSHOT") or str(tmp_path / "console.png"))
