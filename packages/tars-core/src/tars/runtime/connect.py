"""The one way to build a bus client: a broker URL and a role in, an MqttBus with a fresh id out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from tars.runtime.bus import Will
from tars.runtime.service import instance_id

if TYPE_CHECKING:
    from tars.runtime.mqtt import BrokerAddress, MqttBus

ROLE_RE = re.compile(r"[a-z][a-z0-9-]*")
"""A role names the client in its id: a worker (``llm``, ``llm-2``) or a command (``tars-ask``)."""


def client_bus(url: BrokerAddress | str, role: str, *, namespace: str = "",
               will: Will | Callable[[str], Will] | None = None, connect_timeout: float = 10.0,
               session_expiry_s: int = 300) -> MqttBus:
    """An MqttBus (not started) for ``role`` on the broker at ``url``.

    The client id is ``<role>-<host>-<pid>-<random>``, new at every call: two commands of one
    role at once (two `tars ask`) never take over each other's session. The credential comes with
    ``url`` (``mqtt://user:pass@host:port``): the brokers tars starts bind a service's client id
    to its username on the main listener and let the operator (``cli``, on the loopback admin
    listener) choose its own, so there the id tells the operator's clients apart. ``will`` is
    the last will, or a function of the client id that makes it (a worker's offline status
    names its instance). MqttBus, and with it aiomqtt, is imported at the first call.
    """
    from tars.runtime.mqtt import MqttBus

    if not ROLE_RE.fullmatch(role):
        raise ValueError(f"client role: lowercase letters, digits and '-', got {role!r}")
    client_id = instance_id(role)
    return MqttBus(url, client_id, namespace=namespace,
                   will=will(client_id) if callable(will) else will,
                   connect_timeout=connect_timeout, session_expiry_s=session_expiry_s)
