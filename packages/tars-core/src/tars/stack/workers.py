"""Which workers are installed (entry point group ``tars.workers``) and in what order to start."""

from __future__ import annotations

from dataclasses import dataclass

from tars.cli.common import plugins

START_ORDER = ["memory", "tools", "llm", "router", "tts", "stt", "wake", "gateway", "wyoming"]
# Installed but started only when asked: `tars up --with NAME` or `[NAME] enabled = true`.
OPTIONAL = {"wyoming"}


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


def enabled_in_config(name: str) -> bool:
    """``[name] enabled = true`` in the configuration file (an optional worker turned on)."""
    import tomllib

    from tars.runtime.errors import ConfigError
    from tars.runtime.settings import config_file

    try:
        path = config_file()
        if path is None:
            return False
        section = tomllib.loads(path.read_text()).get(name, {})
    except (OSError, ConfigError, tomllib.TOMLDecodeError):
        return False
    return isinstance(section, dict) and section.get("enabled") is True


def select(workers: list[WorkerSpec], only: list[str], without: list[str],
           with_: list[str] | None = None) -> list[WorkerSpec]:
    """The workers to start: ``only`` (all when empty) less ``without``; an OPTIONAL worker
    only when named in ``only`` or ``with_``, or enabled in the configuration file."""
    names = {w.name for w in workers}
    extra = with_ or []
    unknown = [n for n in [*only, *without, *extra] if n not in names]
    if unknown:
        raise ValueError(f"unknown worker(s): {', '.join(unknown)} (installed: {', '.join(sorted(names)) or 'none'})")
    chosen = [w for w in workers if not only or w.name in only or w.name in extra]
    chosen = [w for w in chosen if w.name not in OPTIONAL or w.name in only or w.name in extra
              or enabled_in_config(w.name)]
    return [w for w in chosen if w.name not in without]
