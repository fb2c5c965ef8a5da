"""``python -m tars_llm``: the llm worker (settings -> logging -> load model -> Ready -> serve)."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_llm.service import build
from tars_llm.settings import Settings


def main() -> int:
    return run_worker("llm", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
