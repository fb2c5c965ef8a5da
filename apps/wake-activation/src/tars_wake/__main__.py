"""``python -m tars_wake``: the wake-activation worker."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_wake.service import build
from tars_wake.settings import Settings


def main() -> int:
    return run_worker("wake", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
