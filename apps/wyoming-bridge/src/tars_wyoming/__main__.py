"""``python -m tars_wyoming``: the Wyoming bridge (Home Assistant speaks to tars)."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_wyoming.service import build
from tars_wyoming.settings import Settings


def main() -> int:
    return run_worker("wyoming", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
