"""The Bus seam: raw publish/subscribe with MQTT semantics, and topic matching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Message:
    """One message as delivered by a bus (topic without the bus namespace)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    duplicate: bool = False


RawHandler = Callable[[Message], Awaitable[None]]
ConnectHook = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Will:
    """A last will. ``fresh`` (if set) makes a new payload for every connection, so each will
    the broker delivers is a distinct message (receivers de-duplicate by envelope id)."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True
    fresh: Callable[[], bytes] | None = None

    def current(self) -> bytes:
        return self.fresh() if self.fresh is not None else self.payload


class Subscription(Protocol):
    topic_filter: str

    async def cancel(self) -> None: ...


class Bus(Protocol):
    """What services need from a message bus; MqttBus and InMemoryBus both provide it.

    Handlers are awaited in arrival order by the bus's reader and must return quickly
    (the service layer queues work instead of doing it inline).
    """

    client_id: str

    @property
    def connected(self) -> bool: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
        expiry_s: float | None = None,
    ) -> None: ...

    async def subscribe(self, topic_filter: str, handler: RawHandler, *, qos: int = 1) -> Subscription: ...

    def on_connect(self, hook: ConnectHook) -> None: ...


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching with ``+`` and ``#``; ``$`` topics only match explicit filters; a
    shared subscription matches what its topic filter matches."""
    topic_filter = split_shared(topic_filter)[1]
    f_parts = topic_filter.split("/")
    t_parts = topic.split("/")
    if t_parts[0].startswith("$") and not f_parts[0].startswith("$"):
        return False
    for i, part in enumerate(f_parts):
        if part == "#":
            return True
        if i >= len(t_parts):
            return False
        if part != "+" and part != t_parts[i]:
            return False
    return len(f_parts) == len(t_parts)


SHARE_PREFIX = "$share/"


def shared_filter(group: str, topic_filter: str) -> str:
    """The MQTT 5 shared subscription ``$share/<group>/<filter>``: each message matching
    ``topic_filter`` goes to one subscriber of the group."""
    if not group or any(c in group for c in "/+#"):
        raise ValueError(f"bad share group {group!r}")
    return f"{SHARE_PREFIX}{group}/{topic_filter}"


def split_shared(topic_filter: str) -> tuple[str | None, str]:
    """``(group, filter)`` of a shared subscription; ``(None, filter)`` for a plain one."""
    if not topic_filter.startswith(SHARE_PREFIX):
        return None, topic_filter
    group, _, rest = topic_filter[len(SHARE_PREFIX):].partition("/")
    if not group or not rest:
        raise ValueError(f"bad shared subscription {topic_filter!r}")
    return group, rest


def validate_filter(topic_filter: str) -> None:
    _, topic_filter = split_shared(topic_filter)
    if not topic_filter:
        raise ValueError("empty topic filter")
    parts = topic_filter.split("/")
    for i, part in enumerate(parts):
        if "#" in part and (part != "#" or i != len(parts) - 1):
            raise ValueError(f"bad topic filter {topic_filter!r}: '#' must be last and alone")
        if "+" in part and part != "+":
            raise ValueError(f"bad topic filter {topic_filter!r}: '+' must fill a level")
