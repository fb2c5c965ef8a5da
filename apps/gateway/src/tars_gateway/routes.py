"""Several handlers per topic in one Service (which delivers each message id only once)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tars.contracts.topics import TopicSpec
from tars.runtime import Inbound, Service

Handler = Callable[[Inbound[Any]], Awaitable[None]]


class Routes:
    """Collects ``handle(spec, handler, topic=...)`` calls; ``install`` registers one handler
    per (topic, filter) on the service that calls each collected handler in turn."""

    def __init__(self) -> None:
        self._by: dict[tuple[str, str | None], tuple[TopicSpec, list[Handler]]] = {}

    def handle(self, spec: TopicSpec, handler: Handler, *, topic: str | None = None) -> None:
        self._by.setdefault((spec.pattern, topic), (spec, []))[1].append(handler)

    def install(self, service: Service) -> None:
        for (_pattern, topic), (spec, handlers) in self._by.items():
            service.handle(spec, _fan(handlers), topic=topic)


def _fan(handlers: list[Handler]) -> Handler:
    async def fan(msg: Inbound[Any]) -> None:
        for handler in handlers:
            await handler(msg)

    return fan
