"""The wake arbiter: the best of the sites that heard one wake word answers, not the fastest."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tars_wake.arbiter import SILENCE_DB, Candidate, WakeArbiter, level_dbfs
from tars_wake.detector import WakeDetection


class Outcome:
    def __init__(self) -> None:
        self.rounds: list[tuple[str, list[str]]] = []

    async def __call__(self, winner: Candidate, losers: list[Candidate]) -> None:
        self.rounds.append((winner.site, [c.site for c in losers]))


def cand(site: str, score: float, level_db: float) -> Candidate:
    return Candidate(site, WakeDetection("hey_jarvis", score, 1.0), level_db, 0.0)


def test_level_is_the_loudest_50_ms() -> None:
    tone = (np.sin(np.arange(16_000) / 5.0) * 16_384).astype(np.int16)
    quiet = (tone // 10).astype(np.int16)
    assert level_dbfs(tone) == pytest.approx(-9.0, abs=0.2)
    assert level_dbfs(tone) - level_dbfs(quiet) == pytest.approx(20.0, abs=0.2)
    assert level_dbfs(np.zeros(800, dtype=np.int16)) == SILENCE_DB
    assert level_dbfs(np.concatenate([np.zeros(8000, dtype=np.int16), tone[:1600]])) > -10


async def test_the_loudest_answers_though_it_was_slower() -> None:
    out = Outcome()
    arb = WakeArbiter(0.25, out, lambda: {"hall", "kitchen", "porch"})
    await arb.offer(cand("hall", 0.95, -32.0))  # first, but far away
    await asyncio.sleep(0.1)
    await arb.offer(cand("kitchen", 0.93, -18.0))
    await asyncio.sleep(0.3)
    assert out.rounds == [("kitchen", ["hall"])] and arb.stood_down == 1


async def test_a_clearly_better_score_beats_a_little_more_level() -> None:
    out = Outcome()
    arb = WakeArbiter(0.25, out, lambda: {"a", "b"})
    await arb.offer(cand("a", 0.55, -20.0))
    await arb.offer(cand("b", 0.98, -23.0))  # every live site offered: decided at once
    assert out.rounds == [("b", ["a"])]


async def test_one_live_site_pays_no_delay_and_rounds_are_separate() -> None:
    out = Outcome()
    arb = WakeArbiter(0.3, out, lambda: {"a"})
    await arb.offer(cand("a", 0.9, -20.0))
    assert out.rounds == [("a", [])]
    live = {"a", "b"}
    arb = WakeArbiter(0.15, out, lambda: live)
    await arb.offer(cand("b", 0.9, -20.0))
    await asyncio.sleep(0.3)  # "a" never heard it: "b" answers after the window
    await arb.offer(cand("a", 0.9, -40.0))  # a later wake word is a new round
    await asyncio.sleep(0.3)
    assert out.rounds[1:] == [("b", []), ("a", [])]
    await arb.close()


async def test_window_zero_turns_arbitration_off() -> None:
    out = Outcome()
    arb = WakeArbiter(0.0, out, lambda: {"a", "b"})
    await arb.offer(cand("a", 0.6, -40.0))
    await arb.offer(cand("b", 0.9, -10.0))
    assert out.rounds == [("a", []), ("b", [])]
