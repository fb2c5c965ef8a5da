"""The warmed prefix survives a restart: saved as llama.cpp state + JSON, restored only for the
same model and the same prompt tokens, and the restored state answers like a fresh one."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tars.contracts.character import Character
from tars_llm.model import collect
from tars_llm.prefixcache import PrefixCache
from tars_llm.prompt import PromptBuilder
from tars_llm.types import ChatRequest, SamplingParams

pytestmark = pytest.mark.models
BUILDER = PromptBuilder(Character(name="TARS", style="dry and brief"))
GREEDY = SamplingParams(max_tokens=12, temperature=0.0, seed=0)


async def answer(model: Any, question: str) -> tuple[str, int]:
    text, result = await collect(model.stream(ChatRequest(tuple(BUILDER.build(question)), (), GREEDY),
                                              threading.Event()))
    return text, result.cached_prompt_tokens


def test_prefix_state_is_saved_restored_and_invalidated(qwen: Any, tmp_path: Path) -> None:
    warm = ChatRequest(tuple(BUILDER.build("Hello.")))
    qwen.prefix_cache = PrefixCache(tmp_path, "sha256:test-model", keep=1)
    try:
        first = qwen.warm(warm)
        assert first["restored"] == 0 and first["prompt_tokens"] > 20
        files = sorted(tmp_path.iterdir())
        assert [p.suffix for p in files] == [".json", ".state"]
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
        meta = json.loads(files[0].read_text())
        assert meta["n_tokens"] == first["prompt_tokens"] and meta["model"] == "sha256:test-model"
        fresh = asyncio.run(answer(qwen, "Name a primary colour."))

        qwen._llama.n_tokens = 0  # as after a restart: nothing in the KV cache
        again = qwen.warm(warm)
        assert again["restored"] == 1 and again["seconds"] < first["seconds"]
        restored = asyncio.run(answer(qwen, "Name a primary colour."))
        assert restored == fresh  # same text, same cached prefix length

        other = ChatRequest(tuple(PromptBuilder(Character(name="Other")).build("Hello.")))
        assert (qwen.warm(other))["restored"] == 0  # another prompt, another key
        assert len(list(tmp_path.iterdir())) == 2  # the stale state was replaced
        qwen.prefix_cache = PrefixCache(tmp_path, "sha256:another-model")
        assert (qwen.warm(other))["restored"] == 0  # another model never restores it

        for path in tmp_path.glob("*.state"):
            path.write_bytes(b"garbage")
        assert (qwen.warm(other))["restored"] == 0  # unreadable: evaluated again
        assert asyncio.run(answer(qwen, "Name a primary colour."))
    finally:
        qwen.prefix_cache = None
        qwen._llama.n_tokens = 0


@pytest.mark.broker
@pytest.mark.e2e
@pytest.mark.timeout(400)
def test_a_restarted_worker_restores_instead_of_evaluating(worker_process: Any, qwen_path: Path,
                                                           tmp_path: Path) -> None:
    namespace = f"t{uuid.uuid4().hex[:8]}/"
    ready_s: list[float] = []
    warmed: list[str] = []
    for _ in range(2):
        started = time.monotonic()
        worker = worker_process(namespace, model_path=qwen_path, n_ctx=2048,
                                prefix_cache_dir=tmp_path / "prefix")
        ready_s.append(time.monotonic() - started)
        assert worker.stop() == 0
        warmed += [line for line in worker.lines if "warmed the system+tools prefix" in line]
    assert len(warmed) == 2, warmed
    assert "evaluated" in warmed[0] and "restored from the prefix cache" in warmed[1], warmed
    print(f"\nready after start: cold {ready_s[0]:.1f} s, warm caches {ready_s[1]:.1f} s")
