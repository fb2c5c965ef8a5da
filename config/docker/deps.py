"""Print the third-party requirements of every workspace package (one per line), for the image's
dependency layer: it is rebuilt only when these lines change, not when the source does.

``--source-builds`` prints only the requirements that compile from source, ``--rest`` the others.
``--no-deps`` prints instead the packages that are installed without their own requirements
(``[tool.tars] no-deps`` in a pyproject: model data whose declared requirements are not needed)."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

EXTRAS = {"tars-core": ["audio"]}
# Built from source (minutes): installed in a layer of their own, kept when other requirements change.
SOURCE_BUILDS = ("llama-cpp-python", "hnswlib")  # what the image needs beyond the plain dependencies
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


def is_source_build(requirement: str) -> bool:
    return requirement.lower().startswith(SOURCE_BUILDS)


if __name__ == "__main__":
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    root = Path(next((a for a in sys.argv[1:] if not a.startswith("--")), "."))
    if "--no-deps" in flags:
        lines = no_deps(root)
    else:
        lines = requirements(root)
        if "--source-builds" in flags:
            lines = [r for r in lines if is_source_build(r)]
        elif "--rest" in flags:
            lines = [r for r in lines if not is_source_build(r)]
    print("\n".join(lines))
