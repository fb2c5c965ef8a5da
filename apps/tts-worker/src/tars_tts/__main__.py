"""``python -m tars_tts``: the tts worker (settings -> logging -> load the voice -> Ready -> serve)."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_tts.service import build
from tars_tts.settings import Settings


def main() -> int:
    return run_worker("tts", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
