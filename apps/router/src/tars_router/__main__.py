"""``python -m tars_router``: run the router."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_router.service import build
from tars_router.settings import Settings


def main() -> int:
    """Entry point of the ``router`` worker."""
    return run_worker("router", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
