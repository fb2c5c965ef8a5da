"""The ChatModel seam and an adapter that streams a blocking model from a worker thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Protocol, runtime_checkable

from tars_llm.types import CancelToken, ChatEvent, ChatRequest, ChatResult, TextDelta


class ChatModel(Protocol):
    """A streaming chat model: text deltas first, then exactly one ChatResult.

    Implementations stop promptly once ``cancel.is_set()`` and then finish with
    ``finish_reason="cancelled"``. Provider failures raise ``tars_llm.errors.LLMError``.
    """

    @property
    def name(self) -> str:
        """A short description of the provider and model, for logs and ``describe``."""
        ...

    def stream(
        self, request: ChatRequest, cancel: CancelToken
    ) -> AsyncGenerator[ChatEvent, None]:
        """Generate a reply to ``request`` without blocking the event loop."""
        ...

    async def aclose(self) -> None:
        """Release the model's resources."""
        ...


@runtime_checkable
class PrefixWarming(Protocol):
    """A model that can put a prompt in its cache ahead of time (and keep it across starts)."""

    async def awarm(self, request: ChatRequest) -> dict[str, float]:
        """Evaluate or restore ``request``'s prompt; returns prompt_tokens, restored, seconds."""
        ...

    async def aprefill(self, request: ChatRequest, stop: CancelToken | None = None) -> dict[str, float]:
        """Evaluate what of ``request``'s prompt is not in the cache yet (nothing is generated),
        ending early once ``stop`` is set; returns prompt_tokens, evaluated, seconds."""
        ...


class SyncChatModel(Protocol):
    """A blocking chat model; run ``generate`` in a dedicated single-thread executor."""

    def generate(self, request: ChatRequest, cancel: CancelToken) -> Iterator[ChatEvent]:
        """Generate a reply in the caller's thread, checking ``cancel`` between tokens."""
        ...


class _Either:
    """A cancel token set when either of two tokens is set."""

    def __init__(self, first: CancelToken, second: CancelToken) -> None:
        self._first = first
        self._second = second

    def is_set(self) -> bool:
        return self._first.is_set() or self._second.is_set()


_END = object()


async def stream_from_thread(
    generate: Callable[[ChatRequest, CancelToken], Iterator[ChatEvent]],
    request: ChatRequest,
    cancel: CancelToken,
    executor: Executor,
) -> AsyncGenerator[ChatEvent, None]:
    """Run a blocking ``generate`` in ``executor`` and yield its events on the event loop.

    If the consumer stops early (break, task cancellation), the generation is cancelled and
    the worker thread is awaited, so the executor is free when this generator closes.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    abandoned = threading.Event()

    def post(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            abandoned.set()

    def work() -> None:
        try:
            for event in generate(request, _Either(cancel, abandoned)):
                post(event)
        except BaseException as exc:
            post(exc)
        finally:
            post(_END)

    future = loop.run_in_executor(executor, work)
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, TextDelta | ChatResult)
            yield item
    finally:
        abandoned.set()
        await asyncio.shield(future)


async def collect(events: AsyncIterator[ChatEvent]) -> tuple[str, ChatResult]:
    """Drain a stream; return the concatenated deltas and the final result."""
    parts: list[str] = []
    result: ChatResult | None = None
    async for event in events:
        if isinstance(event, TextDelta):
            parts.append(event.text)
        else:
            result = event
    if result is None:
        raise RuntimeError("chat stream ended without a ChatResult")
    return "".join(parts), result
