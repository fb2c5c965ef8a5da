"""``python -m tars_stt``: the speech-to-text worker."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_stt.service import build
from tars_stt.settings import Settings


def main() -> int:
    return run_worker("stt", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
