"""The tools on offer: gathered from every provider's retained registry, in a stable order."""

from __future__ import annotations

from tars.contracts.tools import ToolRegistry, ToolSpec


class ToolDirectory:
    """Tools by provider. ``tools()`` is sorted by provider and keeps each provider's order,
    so the prompt's tool block (and so the model's cached prefix) only changes when a
    registry does. A name offered by two providers is listed once (first provider wins)."""

    def __init__(self) -> None:
        self._by_provider: dict[str, tuple[ToolSpec, ...]] = {}
        self._cached: tuple[ToolSpec, ...] = ()

    def update(self, registry: ToolRegistry) -> bool:
        """Store one provider's registry; True if the offered tools changed."""
        specs = tuple(registry.tools)
        if specs:
            self._by_provider[registry.provider] = specs
        else:
            self._by_provider.pop(registry.provider, None)
        before = self._cached
        self._cached = self._gather()
        return self._cached != before

    def tools(self) -> tuple[ToolSpec, ...]:
        return self._cached

    def providers(self) -> list[str]:
        return sorted(self._by_provider)

    def _gather(self) -> tuple[ToolSpec, ...]:
        seen: set[str] = set()
        out: list[ToolSpec] = []
        for provider in sorted(self._by_provider):
            for spec in self._by_provider[provider]:
                if spec.name not in seen:
                    seen.add(spec.name)
                    out.append(spec)
        return tuple(out)
