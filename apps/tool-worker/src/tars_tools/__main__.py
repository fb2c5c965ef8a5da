"""``python -m tars_tools``: run the tool worker."""

from __future__ import annotations

from tars.runtime.runner import run_worker
from tars_tools.service import build
from tars_tools.settings import Settings


def main() -> int:
    """Entry point of the ``tools`` worker."""
    return run_worker("tools", Settings, build)


if __name__ == "__main__":
    raise SystemExit(main())
