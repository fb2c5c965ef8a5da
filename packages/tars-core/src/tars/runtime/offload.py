"""Offload helpers: blocking inference runs in a dedicated executor, never on the event loop."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("tars.offload")


class ModelExecutor:
    """A named executor for one model; one thread by default (most models are not thread-safe)."""

    def __init__(self, name: str, threads: int = 1, max_pending: int = 32) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"tars-{name}")
        self._slots = asyncio.Semaphore(max_pending)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


async def call_engine(engine: object, method: str, *args: Any,
                      executor: ModelExecutor | None = None, **kwargs: Any) -> Any:
    """Call ``engine.<method>``: its async variant if it has one, else the sync one off-loop.

    Engines are duck-typed: an ``a<method>`` or ``<method>_async`` coroutine function wins;
    a ``<method>`` that is itself a coroutine function is awaited; a plain sync method runs in
    ``executor`` (or ``asyncio.to_thread``). Async methods are never wrapped in threads again.
    """
    for name in (f"a{method}", f"{method}_async", method):
        fn = getattr(engine, name, None)
        if fn is not None and inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
    fn = getattr(engine, method, None)
    if fn is None:
        raise AttributeError(f"{type(engine).__name__} has no method {method!r}")
    if executor is not None:
        return await executor.run(fn, *args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


def log_slow(threshold_ms: float) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Decorate a coroutine function to log a warning when a call takes over ``threshold_ms``."""

    def deco(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                ms = (time.perf_counter() - start) * 1000
                if ms > threshold_ms:
                    log.warning("%s took %.0f ms (threshold %.0f)", fn.__qualname__, ms, threshold_ms)

        return wrapper

    return deco
