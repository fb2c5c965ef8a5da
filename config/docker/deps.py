"""Print the third-party requirements of every workspace package (one per line), for the image's
dependency layer: it is rebuilt only when these lines change, not when the source does.

``--no-deps`` prints instead the packages that are installed without their own requirements
(``[tool.tars] no-deps`` in a pyproject: model data whose declared requirements are not needed)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

EXTRAS = {"tars-core": ["audio"]}  # what the image needs beyond the plain dependencies
BUILD = ["setuptools>=68", "wheel"]  # the source layer installs without build isolation


def pyprojects(root: Path) -> list[dict[str, Any]]:
    files = [root / "packages/tars-core/pyproject.toml", *sorted(root.glob("apps/*/pyproject.toml"))]
    return [tomllib.loads(f.read_text()) for f in files]


def no_deps(root: Path) -> list[str]:
    return sorted({r for p in pyprojects(root) for r in p.get("tool", {}).get("tars", {}).get("no-deps", [])})


def requirements(root: Path) -> list[str]:
    found: set[str] = set(BUILD)
    for data in pyprojects(root):
        project = data["project"]
        deps = list(project.get("dependencies", []))
        for extra in EXTRAS.get(project["name"], []):
            deps += project.get("optional-dependencies", {}).get(extra, [])
        found.update(d for d in deps if not d.lower().startswith("tars-"))
    return sorted(found, key=str.lower)


if __name__ == "__main__":
    args = sys.argv[1:]
    pick = no_deps if args[:1] == ["--no-deps"] else requirements
    print("\n".join(pick(Path(args[-1] if args and args[-1] != "--no-deps" else "."))))
