"""A Mosquitto ``connection`` bridge from this broker to a hub, its topics derived from the
hub credential's grants (so the hub's ACL holds across the bridge)."""

from __future__ import annotations

import socket

from tars.contracts import topics as T
from tars.runtime.errors import ConfigError
from tars.runtime.mqtt import BrokerAddress
from tars.stack import access


def bridge_topics(user: str, namespace: str = "") -> list[tuple[str, str, int]]:
    """``(filter, direction, qos)`` for every topic the hub credential ``user`` may use: what it
    may publish goes ``out`` to the hub, what it may read comes ``in``; both: ``both``."""
    role, _ = access.role_of(user)
    if role == T.CLI:
        raise ConfigError("--bridge-to: the operator credential (cli) cannot bridge; use a "
                          "satellite's or a service's credential of the hub")
    found: dict[str, tuple[set[str], int]] = {}
    for spec in T.ALL:
        for write, roles in ((True, spec.pub), (False, spec.sub)):
            if role not in roles:
                continue
            flt = namespace + access.scoped_filter(spec, user, write=write)
            dirs, qos = found.get(flt, (set(), 0))
            found[flt] = (dirs | {"out" if write else "in"}, max(qos, spec.qos))
    return [(flt, "both" if len(d) == 2 else next(iter(d)), qos) for flt, (d, qos) in found.items()]


def bridge_config(url: str, namespace: str = "", name: str | None = None) -> list[str]:
    """The ``connection`` section for mosquitto.conf: MQTT 5 to the hub at ``url`` (its
    username picks the topics; ``mqtts://...?ca=`` for TLS), clean local loops (no-local)."""
    hub = BrokerAddress.parse(url)
    if not hub.username or not hub.password:
        raise ConfigError("--bridge-to: the hub URL needs its credential, mqtt://USER:PASSWORD@HOST:PORT")
    try:
        topics = bridge_topics(hub.username, namespace)
    except ValueError as exc:
        raise ConfigError(f"--bridge-to: {exc}") from exc
    conn = name or f"tars-{socket.gethostname()}-{hub.username}"
    lines = [f"connection {conn}", f"address {hub.host}:{hub.port}",
             f"remote_username {hub.username}", f"remote_password {hub.password}",
             f"remote_clientid {hub.username}", "bridge_protocol_version mqttv50",
             "cleansession true", "try_private true", "restart_timeout 1 10",
             "notifications false"]
    if hub.tls:
        lines.append(f"bridge_cafile {hub.ca}" if hub.ca else "bridge_capath /etc/ssl/certs")
        if hub.cert and hub.key:
            lines += [f"bridge_certfile {hub.cert}", f"bridge_keyfile {hub.key}"]
    lines += [f"topic {flt} {direction} {qos}" for flt, direction, qos in topics]
    return lines
