"""ModelExecutor: one named thread per model, an initializer, a plain Executor, and shutdown."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import CancelledError, Executor

import pytest

from tars.runtime import ModelExecutor


def thread_name() -> str:
    return threading.current_thread().name


async def test_every_call_runs_on_the_one_named_thread() -> None:
    executor = ModelExecutor("model")
    try:
        names = await asyncio.gather(*(executor.run(thread_name) for _ in range(8)))
        assert len(set(names)) == 1
        assert names[0].startswith("tars-model_"), names[0]
        assert names[0] != threading.current_thread().name
    finally:
        executor.shutdown(wait=True)


async def test_run_passes_positional_and_keyword_arguments_and_raises_what_fn_raises() -> None:
    executor = ModelExecutor("args")
    try:
        assert await executor.run(divmod, 17, 5) == (3, 2)
        assert await executor.run(int, "ff", base=16) == 255
        with pytest.raises(ZeroDivisionError):
            await executor.run(divmod, 1, 0)
    finally:
        executor.shutdown(wait=True)


async def test_the_initializer_runs_first_on_the_models_thread() -> None:
    seen: list[str] = []
    executor = ModelExecutor("init", initializer=lambda: seen.append(thread_name()))
    try:
        name = await executor.run(thread_name)
        assert seen == [name]
    finally:
        executor.shutdown(wait=True)


async def test_it_is_an_executor_for_code_that_takes_one() -> None:
    executor = ModelExecutor("plain")
    try:
        assert isinstance(executor, Executor)
        name = await asyncio.get_running_loop().run_in_executor(executor, thread_name)
        assert name == executor.submit(thread_name).result() == await executor.run(thread_name)
    finally:
        executor.shutdown(wait=True)


def test_shutdown_drops_the_queued_calls_and_with_wait_returns_after_the_running_one() -> None:
    executor = ModelExecutor("stop")
    started, release = threading.Event(), threading.Event()
    ended: list[str] = []
    seen_by_stopper: list[str] = []

    def block() -> None:
        started.set()
        release.wait()
        ended.append("block")

    def stop() -> None:
        executor.shutdown(wait=True)
        seen_by_stopper.extend(ended)

    running = executor.submit(block)
    queued = executor.submit(ended.append, "queued")
    assert started.wait(30)
    executor.shutdown()  # not waiting: block() still runs, the queued call is dropped
    assert queued.cancelled() and not running.done()
    stopper = threading.Thread(target=stop)
    stopper.start()
    release.set()
    stopper.join(30)
    assert seen_by_stopper == ended == ["block"]
    assert running.done()
    with pytest.raises(CancelledError):
        queued.result()


def test_no_work_is_taken_once_shut_down() -> None:
    executor = ModelExecutor("closed")
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit(thread_name)
    with pytest.raises(RuntimeError):
        asyncio.run(executor.run(thread_name))
