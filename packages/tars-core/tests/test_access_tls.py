"""TLS on the broker: mqtts:// with the stack's CA works, plaintext on the TLS port is refused,
and with require_certificate a client without its certificate is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tars.runtime.broker import LocalBroker
from tars.runtime.bus import Message
from tars.runtime.errors import BusError, ConfigError
from tars.runtime.mqtt import BrokerAddress, MqttBus
from tars.stack.auth import Credentials
from tars.stack.tls import Pki

pytestmark = pytest.mark.broker


async def _roundtrip(url: str, admin_url: str) -> bytes:
    """Connect over ``url`` and receive one request the operator publishes."""
    bus = MqttBus(url, "tls-client", connect_timeout=5)
    cli = MqttBus(admin_url, "tls-operator", connect_timeout=5)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on(msg: Message) -> None:
        await got.put(msg.payload)

    await bus.start()
    await cli.start()
    try:
        await bus.subscribe("tars/llm/request", on)
        await cli.publish("tars/llm/request", b"over tls")
        return await asyncio.wait_for(got.get(), 5)
    finally:
        await bus.stop()
        await cli.stop()


async def _refused(url: str) -> None:
    bus = MqttBus(url, "tls-intruder", connect_timeout=1.5, reconnect_max=0.5)
    with pytest.raises(BusError):
        await bus.start()


@pytest.mark.parametrize("require", [False, True])
async def test_tls_listener(tmp_path: Path, require: bool) -> None:
    creds = Credentials(tmp_path).load_or_create()
    passwd, admin, acl = creds.write_broker_files()
    pki = Pki(tmp_path / "tls").ensure(["llm"], ["hub.example"])
    assert (pki.dir / "llm.key").stat().st_mode & 0o077 == 0
    with LocalBroker(workdir=tmp_path, password_file=passwd, admin_password_file=admin, acl_file=acl,
                     bind_client_ids=True, tls=pki.broker_tls(require)) as broker:
        assert broker.url.startswith("mqtts://")
        with_cert = creds.url("llm", "127.0.0.1", broker.port, scheme="mqtts",
                              query=pki.client_query("llm"))
        admin_url = creds.url("cli", "127.0.0.1", broker.admin_port)
        assert await _roundtrip(with_cert, admin_url) == b"over tls"
        ca_only = creds.url("llm", "127.0.0.1", broker.port, scheme="mqtts",
                            query=f"ca={pki.ca}")
        if require:
            await _refused(ca_only)
        else:
            assert await _roundtrip(ca_only, admin_url) == b"over tls"
        await _refused(creds.url("llm", "127.0.0.1", broker.port))  # plaintext on the TLS port
        await _refused(creds.url("llm", "127.0.0.1", broker.port, scheme="mqtts"))  # unknown CA


def test_tls_url_options_are_checked() -> None:
    a = BrokerAddress.parse("mqtts://u:p@hub:8883?ca=/x/ca.crt&cert=/x/u.crt&key=/x/u.key")
    assert (a.tls, a.ca, a.cert, a.key) == (True, "/x/ca.crt", "/x/u.crt", "/x/u.key")
    for bad in ("mqtt://hub?ca=/x", "mqtts://hub?cert=/x", "mqtts://hub?cafile=/x"):
        with pytest.raises(ConfigError):
            BrokerAddress.parse(bad)
    with pytest.raises(BusError, match="tars up"):  # no silent default broker
        BrokerAddress.parse("")
