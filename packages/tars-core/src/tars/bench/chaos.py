"""``tars bench chaos``: kill -9 a worker (or the broker) in the middle of a turn, then ask again.

A fresh ``tars up`` (its own broker and every installed worker, supervised) is started in a
temporary folder. For each victim, a question the language model answers at length is sent as a
typed turn; once the turn is under way the victim's process is killed with SIGKILL (the broker's
pid is in its files, the workers' come with their heartbeats). The turn must then end — completed,
or with an error that says what happened — and the stack must recover: when the victim is back,
a local intent and an LLM question are asked, and their answers must be right and must not carry
the interrupted turn's content.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tars.bench.beats import Beats
from tars.contracts import topics as T
from tars.contracts.envelope import new_id
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.runtime.service import Inbound, Service

VICTIMS = ("llm", "router", "memory", "tools", "broker")
LONG_QUESTION = "Tell me a long story about a lighthouse keeper and her cat."
MARKERS = ("lighthouse", "keeper", "cat")
"""Words of the interrupted turn: an answer to a later question carrying them is crossed."""
CHECKS = (("what time is it", ("AM", "PM")),
          ("What is the capital of France?", ("Paris",)))
GOAL_END_S = 3.0
"""An interrupted turn that cannot complete ends with an error within this long of the kill."""


@dataclass
class Scenario:
    """One victim: how its interrupted turn ended, and whether the stack came back right."""

    victim: str
    killed_pid: int = 0
    ended_after_kill_s: float | None = None
    path: str = ""
    reason: str = ""
    reply: str = ""
    recovered_s: float | None = None
    checks_right: int = 0
    checks: int = 0
    crossed: int = 0
    check_replies: list[str] = field(default_factory=list)

    @property
    def ended_well(self) -> bool:
        """Completed, or ended with an error within GOAL_END_S of the kill."""
        if self.ended_after_kill_s is None:
            return False
        return self.path != "error" or self.ended_after_kill_s <= GOAL_END_S


class ChaosClient:
    """The operator's client: typed turns, their results, and every worker's pid."""

    def __init__(self, url: str) -> None:
        from tars.clients.router import RouterClient
        from tars.runtime.connect import client_bus

        self.service = Service("bench-chaos", client_bus(url, "bench-chaos", connect_timeout=10),
                               announce=False)
        self.router = RouterClient(self.service)
        self.beats = Beats(self.service)
        self.thinking: set[str] = set()
        self.service.handle(T.TURN_EVENT, self._on_event)

    async def _on_event(self, msg: Inbound[TurnEvent]) -> None:
        if msg.payload.stage in ("thinking", "speaking"):
            self.thinking.add(msg.correlation_id)

    async def send(self, text: str, site: str) -> tuple[str, asyncio.Future[TurnResult]]:
        cid = new_id()
        fut = self.router.expect(cid)
        await self.service.publish(T.ROUTER_TEXT, TextTurn(text=text, speak=False),
                                   correlation_id=cid, site_id=site)
        return cid, fut

    async def ask(self, text: str, site: str, timeout_s: float) -> TurnResult | None:
        cid, fut = await self.send(text, site)
        try:
            return await self.router.wait(cid, fut, timeout_s)
        except TimeoutError:
            return None

    async def new_pid(self, name: str, old: int, timeout_s: float) -> bool:
        """Wait until ``name`` beats with a pid other than ``old`` (it was restarted)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.beats.pid(name) not in (0, old):
                return True
            await asyncio.sleep(0.2)
        return False


def _broker_pid(runtime_dir: Path) -> int:
    return int((runtime_dir / "mosquitto" / "mosquitto.pid").read_text().strip())


async def _scenario(client: ChaosClient, victim: str, runtime_dir: Path, n: int,
                    timeout_s: float) -> Scenario:
    sc = Scenario(victim)
    site = f"chaos-{n}"
    cid, fut = await client.send(LONG_QUESTION, site)
    await _wait_for(lambda: cid in client.thinking or fut.done(), timeout_s)
    await asyncio.sleep(0.5)  # well into the reply
    sc.killed_pid = _broker_pid(runtime_dir) if victim == "broker" else client.beats.pid(victim)
    if not sc.killed_pid:
        sc.reason = f"no pid known for {victim}"
        return sc
    killed_at = time.monotonic()
    os.kill(sc.killed_pid, signal.SIGKILL)
    try:
        result = await client.router.wait(cid, fut, timeout_s)
        sc.ended_after_kill_s = round(max(0.0, time.monotonic() - killed_at), 2)
        sc.path, sc.reason, sc.reply = result.path, result.reason, result.reply
    except TimeoutError:
        sc.reason = "hung"
    if victim == "broker":
        back = await _wait_for(lambda: _broker_pid(runtime_dir) != sc.killed_pid, timeout_s)
    else:
        back = await client.new_pid(victim, sc.killed_pid, timeout_s)
    if back:
        sc.recovered_s = round(time.monotonic() - killed_at, 2)
    for text, expected in CHECKS:
        sc.checks += 1
        res = await _ask_until_served(client, text, f"{site}-check", timeout_s)
        sc.check_replies.append(res.reply if res is not None else "(no answer)")
        if res is None:
            continue
        if any(word.lower() in res.reply.lower() for word in expected):
            sc.checks_right += 1
        if any(m in res.reply.lower() for m in MARKERS):
            sc.crossed += 1
    return sc


async def _ask_until_served(client: ChaosClient, text: str, site: str,
                            timeout_s: float) -> TurnResult | None:
    """Ask; while the stack is still coming back (an error answer), ask again."""
    deadline = time.monotonic() + timeout_s
    res: TurnResult | None = None
    while time.monotonic() < deadline:
        res = await client.ask(text, site, max(1.0, deadline - time.monotonic()))
        if res is not None and res.path != "error":
            return res
        await asyncio.sleep(1.0)
    return res


async def _wait_for(cond: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except (OSError, ValueError):
            pass
        await asyncio.sleep(0.2)
    return False


async def _run(victims: tuple[str, ...], home: Path, timeout_s: float) -> dict[str, Any]:
    from tars.testing.upstack import UpStack

    stack = UpStack(home)
    await asyncio.to_thread(stack.start)
    try:
        client = ChaosClient(stack.url)
        await client.service.start()
        try:
            await _wait_for(lambda: all(client.beats.pid(v) for v in victims if v != "broker"), 30)
            scenarios = [await _scenario(client, v, stack.runtime_dir, n, timeout_s)
                         for n, v in enumerate(victims)]
        finally:
            await client.service.stop()
    finally:
        await asyncio.to_thread(stack.stop)
    ended = [s.ended_after_kill_s for s in scenarios if s.ended_after_kill_s is not None]
    return {
        "bench": "chaos",
        "scenarios": [asdict(s) for s in scenarios],
        "hung": sum(s.reason == "hung" for s in scenarios),
        "crossed": sum(s.crossed for s in scenarios),
        "checks_right": sum(s.checks_right for s in scenarios),
        "checks": sum(s.checks for s in scenarios),
        "end_after_kill_max_s": max(ended) if ended else None,
        "ended_well": sum(s.ended_well for s in scenarios),
        "ready_s": round(stack.ready_s, 1),
        "goal": {"end_after_kill_s": GOAL_END_S, "hung": 0, "crossed": 0},
    }


def run(victims: tuple[str, ...] = VICTIMS, timeout_s: float = 120.0,
        home: Path | None = None) -> dict[str, Any]:
    """Run the chaos scenarios on a fresh stack (in ``home``, else a temporary folder)."""
    unknown = set(victims) - set(VICTIMS)
    if unknown:
        raise ValueError(f"unknown victim(s) {', '.join(sorted(unknown))}; choose from {', '.join(VICTIMS)}")
    if home is not None:
        return asyncio.run(_run(victims, home, timeout_s))
    with tempfile.TemporaryDirectory(prefix="tars-chaos-") as tmp:
        return asyncio.run(_run(victims, Path(tmp), timeout_s))
