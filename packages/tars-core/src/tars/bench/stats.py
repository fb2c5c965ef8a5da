"""Small statistics helpers for benchmarks."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np


def pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


def rss_mb(pid: int | None = None) -> float:
    """Resident set size in MB from /proc (Linux)."""
    path = f"/proc/{pid or os.getpid()}/status"
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")
