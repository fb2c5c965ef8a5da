"""Peers: the workers' status as their watchers see it, on the InMemoryBus and on a real Mosquitto."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import pytest

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.runtime import InMemoryBroker, InMemoryBus, PeerEvent, Peers, Service
from tars.runtime.bus import Bus
from tars.runtime.mqtt import MqttBus
from tars.runtime.service import offline_will

State = Literal["online", "offline", "starting"]
BusFor = Callable[[str, str], Bus]
"""``bus_for(name, instance)``: a bus for one worker instance, with its offline last will."""

VICTIM = textwrap.dedent("""
    import asyncio, sys
    from tars.runtime import Service
    from tars.runtime.mqtt import MqttBus
    from tars.runtime.service import offline_will

    async def main() -> None:
        url, ns, name, instance = sys.argv[1:5]
        bus = MqttBus(url, instance, namespace=ns, will=offline_will(name, instance), keepalive=5)
        service = Service(name, bus, instance=instance)
        await service.start()
        print("ready", flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main())
""")


class Seen:
    """A listener that keeps every event (of every Peers of one test)."""

    def __init__(self) -> None:
        self.events: list[PeerEvent] = []
        self.changed = asyncio.Event()

    async def __call__(self, event: PeerEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def until(self, check: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``check()`` holds, looking again after every event."""
        async with asyncio.timeout(timeout):
            while not check():
                self.changed.clear()
                await self.changed.wait()

    def states(self) -> list[str]:
        return [e.status.state for e in self.events]


class PeersContract:
    """Subclasses provide ``bus_for`` and ``killed_worker``."""

    @pytest.fixture
    def bus_for(self) -> BusFor:
        raise NotImplementedError

    async def killed_worker(self, bus_for: BusFor, services: list[Service],
                            name: str) -> Callable[[], Awaitable[None]]:
        """Start worker ``name`` (online, with its last will); return what kills it abruptly."""
        raise NotImplementedError

    @pytest.fixture
    def seen(self) -> Seen:
        return Seen()

    @pytest.fixture
    async def services(self) -> AsyncIterator[list[Service]]:
        made: list[Service] = []
        yield made
        for svc in reversed(made):
            await svc.stop()

    async def started(self, services: list[Service], bus_for: BusFor, name: str) -> Service:
        instance = f"{name}-{uuid.uuid4().hex[:6]}"
        svc = Service(name, bus_for(name, instance), instance=instance)
        await svc.start()
        services.append(svc)
        return svc

    async def watcher(self, services: list[Service], bus_for: BusFor, seen: Seen,
                      *names: str) -> tuple[Service, Peers]:
        """A client (announcing nothing) watching ``names`` (every name when none)."""
        svc = Service("client", bus_for("client", f"client-{uuid.uuid4().hex[:6]}"), announce=False)
        peers = Peers(svc, *names)
        peers.listen(seen)
        await svc.start()
        services.append(svc)
        return svc, peers

    async def test_online_then_offline_with_the_reason(self, bus_for: BusFor, services: list[Service],
                                                       seen: Seen) -> None:
        _, peers = await self.watcher(services, bus_for, seen, "llm")
        assert not peers.online("llm") and not peers.down("llm") and peers.get("llm") is None
        llm = await self.started(services, bus_for, "llm")
        await seen.until(lambda: peers.online("llm"))
        assert not peers.down("llm")
        await llm.stop()
        services.remove(llm)
        await seen.until(lambda: peers.down("llm"))
        peer = peers.get("llm")
        assert peer is not None and (peer.status.state, peer.status.reason) == ("offline", "shutdown")
        assert peer.status.instance == llm.instance and peer.since > 0
        assert seen.states() == ["starting", "online", "offline"][-len(seen.events):]
        assert [e.came_online for e in seen.events][-2:] == [True, False]
        assert [e.went_offline for e in seen.events][-2:] == [False, True]

    async def test_a_watcher_that_starts_later_reads_the_retained_status(
            self, bus_for: BusFor, services: list[Service], seen: Seen) -> None:
        await self.started(services, bus_for, "memory")
        _, peers = await self.watcher(services, bus_for, seen, "memory")
        await seen.until(lambda: peers.online("memory"))
        assert seen.events[-1].came_online and seen.events[-1].before is None

    async def test_a_killed_worker_reads_offline_from_its_last_will(
            self, bus_for: BusFor, services: list[Service], seen: Seen) -> None:
        _, peers = await self.watcher(services, bus_for, seen, "tts")
        kill = await self.killed_worker(bus_for, services, "tts")
        await seen.until(lambda: peers.online("tts"))
        instance = seen.events[-1].status.instance
        assert peers.alive("tts") == {instance}
        await kill()
        await seen.until(lambda: peers.down("tts"))
        last = seen.events[-1]
        assert (last.status.state, last.status.reason, last.status.instance) == ("offline", "connection lost",
                                                                                instance)
        assert last.went_offline and not last.restarted
        assert peers.alive("tts") == set()

    async def test_only_the_names_watched_and_every_name_when_none_is(
            self, bus_for: BusFor, services: list[Service], seen: Seen) -> None:
        _, one = await self.watcher(services, bus_for, seen, "llm")
        _, every = await self.watcher(services, bus_for, seen)
        await self.started(services, bus_for, "llm")
        await self.started(services, bus_for, "tools")
        await seen.until(lambda: every.online("llm") and every.online("tools") and one.online("llm"))
        assert sorted(every.known()) == ["llm", "tools"]
        assert sorted(one.known()) == ["llm"] and one.get("tools") is None

    async def test_a_restart_is_told_and_the_old_instance_is_alive_until_its_last_word(
            self, bus_for: BusFor, services: list[Service], seen: Seen) -> None:
        client, peers = await self.watcher(services, bus_for, seen, "tts")
        for instance in ("tts-old", "tts-new"):
            await client.publish(T.SYSTEM_STATUS, Status(state="online", instance=instance),
                                 params={"service": "tts"})
        await seen.until(lambda: len(seen.events) == 2)
        assert [e.restarted for e in seen.events] == [False, True]
        assert not seen.events[1].came_online  # online before: no change, nothing logged
        assert peers.alive("tts") == {"tts-old", "tts-new"}
        await client.publish(T.SYSTEM_STATUS, Status(state="offline", instance="tts-old"),
                             params={"service": "tts"})
        await seen.until(lambda: peers.alive("tts") == {"tts-new"})
        # the last word for the name wins: the old instance's late will reads as the name offline
        assert peers.down("tts") and seen.events[-1].went_offline

    async def test_each_change_is_logged_once(self, bus_for: BusFor, services: list[Service], seen: Seen,
                                              caplog: pytest.LogCaptureFixture) -> None:
        client, peers = await self.watcher(services, bus_for, seen, "llm")
        states: list[State] = ["starting", "online", "online", "offline", "offline", "starting", "online"]
        with caplog.at_level(logging.INFO, logger="tars.peers"):
            for state in states:
                await client.publish(T.SYSTEM_STATUS, Status(state=state, instance="llm-1"),
                                     params={"service": "llm"})
            await seen.until(lambda: len(seen.events) == len(states))
        assert seen.states() == states and peers.online("llm")
        said = [r.getMessage() for r in caplog.records if r.name == "tars.peers"]
        assert said == ["llm worker is starting", "llm worker is online", "llm worker is offline",
                        "llm worker is online"]


class TestPeersInMemory(PeersContract):
    @pytest.fixture
    def bus_for(self) -> BusFor:
        broker = InMemoryBroker()

        def make(name: str, instance: str) -> Bus:
            return InMemoryBus(broker, client_id=instance, will=offline_will(name, instance))

        return make

    async def killed_worker(self, bus_for: BusFor, services: list[Service],
                            name: str) -> Callable[[], Awaitable[None]]:
        instance = f"{name}-{uuid.uuid4().hex[:6]}"
        bus = bus_for(name, instance)
        victim = Service(name, bus, instance=instance)
        await victim.start()
        services.append(victim)  # stopped after the test: its bus is gone by then
        assert isinstance(bus, InMemoryBus)
        return bus.kill


class TestPeersOnMosquitto(PeersContract):
    @pytest.fixture
    def bus_for(self, mqtt_url: str, namespace: str) -> BusFor:
        self._url, self._ns = mqtt_url, namespace

        def make(name: str, instance: str) -> Bus:  # stopped with its service
            return MqttBus(mqtt_url, instance, namespace=namespace, will=offline_will(name, instance))

        return make

    @pytest.fixture(autouse=True)
    async def _reap(self) -> AsyncIterator[None]:
        self._procs: list[asyncio.subprocess.Process] = []
        yield
        for proc in self._procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    async def killed_worker(self, bus_for: BusFor, services: list[Service],
                            name: str) -> Callable[[], Awaitable[None]]:
        instance = f"{name}-{uuid.uuid4().hex[:6]}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", VICTIM, self._url, self._ns, name, instance, stdout=asyncio.subprocess.PIPE)
        self._procs.append(proc)
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 30)).strip() == b"ready"

        async def kill() -> None:
            os.kill(proc.pid, signal.SIGKILL)
            await proc.wait()

        return kill
