"""Which workers are installed (entry point group ``tars.workers``) and in what order to start."""

from __future__ import annotations

from dataclasses import dataclass

from tars.cli.common import plugins

START_ORDER = ["memory", "tools", "llm", "router", "tts", "stt", "wake"]


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    module: str

    @property
    def argv(self) -> list[str]:
        import sys

        return [sys.executable, "-m", self.module]


def installed_workers() -> list[WorkerSpec]:
    found = {name: ep.value.split(":")[0].removesuffix(".__main__")
             for name, ep in plugins("tars.workers").items()}
    order = {n: i for i, n in enumerate(START_ORDER)}
    return [WorkerSpec(n, found[n]) for n in sorted(found, key=lambda n: (order.get(n, 99), n))]


def select(workers: list[WorkerSpec], only: list[str], without: list[str]) -> list[WorkerSpec]:
    names = {w.name for w in workers}
    unknown = [n for n in [*only, *without] if n not in names]
    if unknown:
        raise ValueError(f"unknown worker(s): {', '.join(unknown)} (installed: {', '.join(sorted(names)) or 'none'})")
    chosen = [w for w in workers if not only or w.name in only]
    return [w for w in chosen if w.name not in without]
