"""``python -m tars_memory``: the memory worker (settings -> logging -> load model + store -> Ready)."""

from __future__ import annotations

from tars.runtime.runner import run_worker

from .service import build
from .settings import Settings


def main() -> int:
    return run_worker("memory", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
