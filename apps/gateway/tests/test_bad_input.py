"""Bad requests get a 4xx in OpenAI's error shape, leave nothing on disk, and the gateway serves on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker]


def error_of(res: httpx.Response, status: int) -> dict[str, Any]:
    assert res.status_code == status, res.text
    err: dict[str, Any] = res.json()["error"]
    assert err["message"] and err["type"]
    return err


def test_missing_or_wrong_token(gateway: Any) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {gateway.token}"}):
        res = httpx.get(f"{gateway.url}/v1/models", headers=headers)
        err = error_of(res, 401)
        assert err["type"] == "authentication_error"
        assert res.headers["www-authenticate"] == "Bearer"
    assert "missing" in error_of(httpx.get(f"{gateway.url}/v1/models"), 401)["message"]


def test_bad_uploads(gateway: Any, say: Any, wav_bytes: Any) -> None:
    good = wav_bytes(say("Open the window."))
    with gateway.client() as c:
        post = lambda **kw: c.post("/v1/audio/transcriptions", **kw)  # noqa: E731
        assert error_of(post(json={"file": "x"}), 415)["message"].startswith("expected multipart/form-data")
        assert error_of(post(files={"file": ("e.wav", b"", "audio/wav")}), 400)["code"] == "empty_file"
        err = error_of(post(files={"file": ("n.wav", b"this is not audio at all" * 50, "audio/wav")}), 400)
        assert err["code"] == "invalid_audio" and err["param"] == "file"
        assert error_of(post(files={"file": ("h.wav", b"\0" * (3 * 1024 * 1024), "audio/wav")}), 413)["code"] \
            == "file_too_large"
        assert error_of(post(data={"model": "whisper-1"}, files={"other": ("x", b"1")}), 400)["param"] == "file"
        assert error_of(post(files={"file": ("q.wav", good, "audio/wav")}, data={"response_format": "srt"}),
                        400)["param"] == "response_format"
        # a WAV cut in half is still audio; a multipart body cut off before its end is not an upload
        req = c.build_request("POST", "/v1/audio/transcriptions", files={"file": ("q.wav", good, "audio/wav")})
        body = req.read()
        cut = body[: len(body) // 2]
        headers = {"content-type": req.headers["content-type"]}
        assert error_of(post(content=cut, headers=headers), 400)["code"] == "truncated"

        def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
            yield body[:200]
            for _ in range(40):
                yield b"\0" * (100 * 1024)

        assert error_of(post(content=chunked(), headers=headers), 413)["code"] == "file_too_large"
    assert not list(gateway.temp_dir.iterdir()), "an upload was left on disk"


def test_bad_json_requests(gateway: Any) -> None:
    with gateway.client() as c:
        assert error_of(c.post("/v1/audio/speech", content=b"input=hi",
                               headers={"content-type": "application/x-www-form-urlencoded"}), 415)
        assert error_of(c.post("/v1/audio/speech", content=b"{not json",
                               headers={"content-type": "application/json"}), 400)
        assert error_of(c.post("/v1/audio/speech", json={"voice": "alloy"}), 400)["param"] == "input"
        assert error_of(c.post("/v1/audio/speech", json={"input": "hi", "response_format": "mp3"}),
                        400)["param"] == "response_format"
        assert error_of(c.post("/v1/chat/completions", json={"messages": []}), 400)["param"] == "messages"
        assert error_of(c.post("/v1/chat/completions", json={"messages": [
            {"role": "assistant", "content": "hi"}]}), 400)["param"] == "messages"
        assert error_of(c.get("/v1/nothing-here"), 404)


def test_still_serving_after_bad_input(gateway: Any, say: Any, wav_bytes: Any) -> None:
    with gateway.client() as c:
        for _ in range(3):
            c.post("/v1/audio/transcriptions", files={"file": ("n.wav", b"RIFF....WAVEjunk", "audio/wav")})
        res = c.post("/v1/audio/transcriptions", files={"file": ("q.wav", wav_bytes(say("Open the window.")),
                                                                 "audio/wav")})
        assert res.status_code == 200 and "window" in res.json()["text"].lower()
        assert c.get("/healthz").json()["workers"]["gateway"]["state"] == "online"
    assert gateway.proc.poll() is None
    assert not list(gateway.temp_dir.iterdir())


def test_missing_workers_are_503_with_the_worker_named(launch_gateway: Any, wav_bytes: Any) -> None:
    """A gateway alone on its namespace: every request names the worker that is not online."""
    gw = launch_gateway(f"lonely{uuid.uuid4().hex[:8]}/")
    with gw.client() as c:
        tone = (np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440) * 8000).astype(np.int16)
        err = error_of(c.post("/v1/audio/transcriptions", files={"file": ("t.wav", wav_bytes(tone))}), 503)
        assert err["code"] == "stt_offline"
        assert error_of(c.post("/v1/audio/speech", json={"input": "hi"}), 503)["code"] == "tts_offline"
        assert error_of(c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}),
                        503)["code"] == "router_offline"
        health = c.get("/healthz").json()
    assert health["status"] == "ok" and set(health["workers"]) == {"gateway"}
    assert [p for p in gw.temp_dir.iterdir() if p.suffix == ".upload"] == []


def test_client_gone_mid_upload_leaves_nothing(gateway: Any, say: Any, wav_bytes: Any) -> None:
    import socket
    import time
    from urllib.parse import urlsplit

    body = wav_bytes(say("Open the window."))
    boundary = "tarsboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="q.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()
    full = head + body + f"\r\n--{boundary}--\r\n".encode()
    addr = urlsplit(gateway.url)
    with socket.create_connection((addr.hostname, addr.port), timeout=10) as sock:
        sock.sendall((f"POST /v1/audio/transcriptions HTTP/1.1\r\nHost: {addr.netloc}\r\n"
                      f"Authorization: Bearer {gateway.token}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                      f"Content-Length: {len(full)}\r\n\r\n").encode() + full[: len(full) // 2])
        deadline = time.monotonic() + 5
        while not any(gateway.temp_dir.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(gateway.temp_dir.iterdir()), "the upload should be streaming to a temporary file"
    deadline = time.monotonic() + 10
    while any(gateway.temp_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(gateway.temp_dir.iterdir())
    with gateway.client() as c:
        assert c.get("/healthz").status_code == 200


def test_a_lost_broker_is_503_and_the_gateway_recovers(launch_gateway: Any, tmp_path: Any) -> None:
    import time

    from tars.runtime.broker import LocalBroker

    broker = LocalBroker(workdir=tmp_path / "broker").start()
    port = broker.port
    try:
        gw = launch_gateway(f"lost{uuid.uuid4().hex[:8]}/", url=broker.url)
        with gw.client() as c:
            assert c.get("/healthz").status_code == 200
            broker.close()
            deadline = time.monotonic() + 20
            while c.get("/healthz").status_code == 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert c.get("/healthz").json()["bus"] == "disconnected"
            assert error_of(c.post("/v1/audio/speech", json={"input": "hi"}), 503)["code"] == "bus_unavailable"
            broker = LocalBroker(port=port, workdir=tmp_path / "broker2").start()
            deadline = time.monotonic() + 30
            while c.get("/healthz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.3)
            assert c.get("/healthz").json()["workers"]["gateway"]["state"] == "online"
    finally:
        broker.close()
