"""``tars bench soak``: a steady load on a fresh stack; right answers and every worker's RSS slope.

One typed turn every ``every_s`` seconds for ``duration_s``, from rotating sites, alternating the
time, spoken arithmetic (both local intents) and a question for the language model. Each answer
is checked on content. Every worker's RSS comes with its heartbeats; the slope (MB per minute, a
least-squares fit over the second half of the run, after warm-up) says whether memory levels off.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tars.bench.chaos import ChaosClient

QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("what time is it", ("AM", "PM")),
    ("what is {a} times {b}", ("{product}",)),
    ("What is the capital of France?", ("Paris",)),
)


def slope_mb_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) points, in MB per minute."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mr = sum(r for _, r in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    return round(60 * sum((t - mt) * (r - mr) for t, r in points) / var, 3)


async def _run(home: Path, duration_s: float, every_s: float) -> dict[str, Any]:
    from tars.testing.upstack import UpStack

    stack = UpStack(home)
    await asyncio.to_thread(stack.start)
    t0 = time.monotonic()
    try:
        client = ChaosClient(stack.url)
        await client.service.start()
        asked = right = lost = 0
        by_kind: dict[str, list[int]] = {}
        try:
            n = 0
            while time.monotonic() - t0 < duration_s:
                started = time.monotonic()
                template, expected = QUESTIONS[n % len(QUESTIONS)]
                a, b = 12 + n % 37, 3 + n % 11
                text = template.format(a=a, b=b)
                want = [w.format(product=a * b) for w in expected]
                res = await client.ask(text, f"soak-{n % 8}", timeout_s=120)
                asked += 1
                ok = res is not None and any(w.lower() in res.reply.lower() for w in want)
                right += ok
                lost += res is None
                tally = by_kind.setdefault(template, [0, 0])
                tally[0] += ok
                tally[1] += 1
                n += 1
                await asyncio.sleep(max(0.0, every_s - (time.monotonic() - started)))
        finally:
            await client.service.stop()
    finally:
        await asyncio.to_thread(stack.stop)
    half = duration_s / 2
    workers = {name: {"rss_first_mb": round(points[0][1], 1), "rss_last_mb": round(points[-1][1], 1),
                      "slope_mb_per_min": slope_mb_per_min([p for p in points if p[0] >= half])}
               for name, points in client.beats.rss_series().items() if points}
    return {
        "bench": "soak", "duration_s": duration_s, "every_s": every_s,
        "turns": asked, "right": right, "lost": lost,
        "right_by_question": {k: f"{v[0]}/{v[1]}" for k, v in by_kind.items()},
        "workers": workers, "loop_lag": client.beats.loop_lag(),
    }


def run(duration_s: float = 600.0, every_s: float = 6.0, home: Path | None = None) -> dict[str, Any]:
    """The steady load on a fresh stack (in ``home``, else a temporary folder)."""
    if home is not None:
        return asyncio.run(_run(home, duration_s, every_s))
    with tempfile.TemporaryDirectory(prefix="tars-soak-") as tmp:
        return asyncio.run(_run(Path(tmp), duration_s, every_s))
