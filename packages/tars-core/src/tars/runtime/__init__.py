"""Runtime: the Bus seam and its two implementations, services, requests, health, peers, offload."""

from tars.runtime.bus import Bus, Message, Subscription, Will, topic_matches
from tars.runtime.clock import Clock, ManualClock, SystemClock
from tars.runtime.dispatch import Dispatcher
from tars.runtime.errors import (
    BusError,
    ConfigError,
    RequestCancelled,
    RequestError,
    RequestTimeout,
    TarsError,
)
from tars.runtime.lag import LagMonitor
from tars.runtime.memory_bus import InMemoryBroker, InMemoryBus
from tars.runtime.offload import ModelExecutor
from tars.runtime.peers import Peer, PeerEvent, Peers
from tars.runtime.request import Requester
from tars.runtime.service import Inbound, Service
from tars.runtime.settings import CoreSettings, load_settings

__all__ = [
    "Bus",
    "BusError",
    "Clock",
    "ConfigError",
    "CoreSettings",
    "Dispatcher",
    "InMemoryBroker",
    "InMemoryBus",
    "Inbound",
    "LagMonitor",
    "ManualClock",
    "Message",
    "ModelExecutor",
    "Peer",
    "PeerEvent",
    "Peers",
    "RequestCancelled",
    "RequestError",
    "RequestTimeout",
    "Requester",
    "Service",
    "Subscription",
    "SystemClock",
    "TarsError",
    "Will",
    "load_settings",
    "topic_matches",
]
