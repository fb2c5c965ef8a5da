"""Multi-room arbitration: of the sites that hear one wake word within a window, the best answers."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tars.runtime.clock import Clock, SystemClock
from tars_wake.detector import WakeDetection

log = logging.getLogger("tars_wake.arbiter")
Int16Array = npt.NDArray[np.int16]
SILENCE_DB = -100.0


def level_dbfs(samples: Int16Array, window: int = 800) -> float:
    """The loudest ``window``-sample (50 ms) RMS level of ``samples``, in dBFS."""
    if samples.size == 0:
        return SILENCE_DB
    x = samples.astype(np.float64) / 32768.0
    n = max(1, samples.size // window)
    frames = x[: n * window].reshape(n, -1) if samples.size >= window else x.reshape(1, -1)
    rms = float(np.sqrt(np.mean(frames**2, axis=1)).max())
    return 20 * math.log10(rms) if rms > 0 else SILENCE_DB


@dataclass(frozen=True)
class Candidate:
    """One site's claim to a wake word: the detection and the level of the audio around it."""

    site: str
    hit: WakeDetection
    level_db: float
    arrived_s: float

    def merit(self, level_weight: float) -> float:
        """Wake score plus ``level_weight`` per 10 dB of level: 10 dB louder outweighs a score
        lower by ``level_weight``."""
        return self.hit.score + level_weight * self.level_db / 10.0


Decide = Callable[[Candidate, list[Candidate]], Awaitable[None]]


@dataclass
class _Round:
    opened_s: float
    candidates: dict[str, Candidate] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class WakeArbiter:
    """Collects the wake words of every site for ``window_s`` after the first and lets
    ``decide(winner, losers)`` act on the best (by :meth:`Candidate.merit`), not the fastest.

    A round closes early once every site in ``listening()`` (sites whose microphones are live)
    has offered a candidate, so a home with one live microphone pays no delay at all.
    """

    def __init__(self, window_s: float, decide: Decide, listening: Callable[[], set[str]],
                 *, level_weight: float = 0.25, clock: Clock | None = None) -> None:
        self.window_s = window_s
        self.level_weight = level_weight
        self.clock = clock or SystemClock()
        self._decide = decide
        self._listening = listening
        self._round: _Round | None = None
        self.rounds = 0
        self.stood_down = 0

    async def offer(self, cand: Candidate) -> None:
        if self.window_s <= 0:
            await self._decide(cand, [])
            return
        rnd = self._round
        if rnd is not None and self.clock.monotonic() - rnd.opened_s > self.window_s:
            if rnd.task is not None:  # overdue (a busy loop): decide it before a new round
                rnd.task.cancel()
            await self._close(rnd)
            rnd = None
        if rnd is None:
            rnd = self._round = _Round(self.clock.monotonic())
            rnd.task = asyncio.create_task(self._close_later(rnd), name="wake-arbitration")
        old = rnd.candidates.get(cand.site)
        if old is None or cand.merit(self.level_weight) > old.merit(self.level_weight):
            rnd.candidates[cand.site] = cand
        if self._listening() <= set(rnd.candidates):
            if rnd.task is not None:
                rnd.task.cancel()
            await self._close(rnd)

    async def _close_later(self, rnd: _Round) -> None:
        await asyncio.sleep(self.window_s)
        await self._close(rnd)

    async def _close(self, rnd: _Round) -> None:
        if self._round is not rnd:
            return
        self._round = None
        ranked = sorted(rnd.candidates.values(), key=lambda c: c.merit(self.level_weight), reverse=True)
        self.rounds += 1
        self.stood_down += len(ranked) - 1
        if len(ranked) > 1:
            log.info("arbitration: %s answers (score %.3f, %.1f dBFS); standing down: %s",
                     ranked[0].site, ranked[0].hit.score, ranked[0].level_db,
                     ", ".join(f"{c.site} ({c.hit.score:.3f}, {c.level_db:.1f} dBFS)" for c in ranked[1:]))
        await self._decide(ranked[0], ranked[1:])

    async def close(self) -> None:
        rnd, self._round = self._round, None
        if rnd is not None and rnd.task is not None:
            rnd.task.cancel()
            await asyncio.gather(rnd.task, return_exceptions=True)
