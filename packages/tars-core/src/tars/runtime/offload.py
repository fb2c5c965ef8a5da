"""Offload helpers: blocking inference runs in a dedicated executor, never on the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class ModelExecutor(Executor):
    """A named executor for one model; one thread by default (most models are not thread-safe).

    Its threads are named ``tars-<name>_<n>``; ``initializer`` runs first in each of them (the
    llm worker lowers its priority there). ``await run(fn, ...)`` is the way in from the event
    loop and lets at most ``max_pending`` calls wait at once; the executor is also a plain
    ``concurrent.futures.Executor`` (``submit``, ``loop.run_in_executor``) for code that takes
    one, and those calls are not counted.
    """

    def __init__(self, name: str, threads: int = 1, max_pending: int = 32, *,
                 initializer: Callable[[], object] | None = None) -> None:
        self.name = name
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"tars-{name}",
                                        initializer=initializer)
        self._slots = asyncio.Semaphore(max_pending)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """``fn(*args, **kwargs)`` on the model's thread; RuntimeError once shut down."""
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = False, *, cancel_futures: bool = True) -> None:
        """Stop taking work and drop what has not started; ``wait``: until the running call ends."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
