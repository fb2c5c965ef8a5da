"""`tars up --scale`: the pool spec, the worker processes it adds and their environment."""

from __future__ import annotations

import pytest

from tars.runtime.pool import Pool
from tars.stack.scale import MEMBER_ENV, POOLED, expand, parse_scale, pool_env
from tars.stack.workers import WorkerSpec

WORKERS = [WorkerSpec("llm", "tars_llm"), WorkerSpec("router", "tars_router"),
           WorkerSpec("stt", "tars_stt")]


def test_parse_scale() -> None:
    assert parse_scale("llm=2, stt=3") == {"llm": 2, "stt": 3}
    assert parse_scale(None) == {} and parse_scale("") == {}
    for bad in ("llm", "llm=x", "router=2", "nobody=2", "llm=0", "llm=99"):
        with pytest.raises(ValueError):
            parse_scale(bad)
    assert set(POOLED) == {"stt", "llm", "tts", "memory"}


def test_expand_and_env() -> None:
    scale = parse_scale("llm=2,stt=2")
    workers = expand(WORKERS, scale)
    assert [w.name for w in workers] == ["llm", "llm-2", "router", "stt", "stt-2"]
    assert workers[1].module == "tars_llm"
    env = pool_env(workers, scale)
    assert env["llm-2"] == {"TARS_POOL_SIZE": "2", "TARS_POOL_INDEX": "1"}
    assert env["stt"] == {"TARS_POOL_SIZE": "2", "TARS_POOL_INDEX": "0"}
    assert env["stt-2"]["TARS_AUDIO_SOURCE"] == MEMBER_ENV["stt"]["TARS_AUDIO_SOURCE"]
    assert "router" not in env


def test_the_home_site_stays_with_the_first_member() -> None:
    pools = [Pool("stt", 2, i, home="default") for i in range(2)]
    assert [p.owns("default") for p in pools] == [True, False]
    for site in ("kitchen", "hall", "porch", "attic"):
        assert sum(p.owns(site) for p in pools) == 1
