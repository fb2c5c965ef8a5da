"""Chaos on a real stack: kill -9 each worker and the broker in the middle of a turn.

`tars up` (its own broker and every worker, real models) in a temporary folder; for each victim a
long LLM turn is interrupted, then the stack must come back and answer right (tars.bench.chaos).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tars.bench import chaos

pytestmark = [pytest.mark.e2e, pytest.mark.models, pytest.mark.timeout(1500)]


def test_every_interrupted_turn_ends_and_the_stack_answers_right_after(tmp_path: Path) -> None:
    result = chaos.run(chaos.VICTIMS, timeout_s=150.0, home=tmp_path)
    scenarios = {s["victim"]: s for s in result["scenarios"]}
    assert set(scenarios) == set(chaos.VICTIMS)
    for victim, sc in scenarios.items():
        assert sc["killed_pid"] > 0, sc
        assert sc["reason"] != "hung" and sc["ended_after_kill_s"] is not None, sc
        assert sc["path"] in ("llm", "error") and sc["reply"], sc
        if sc["path"] == "error":  # it says what happened, as soon as it is known
            assert sc["ended_after_kill_s"] < 10, sc
        assert sc["recovered_s"] is not None, sc
        assert sc["checks_right"] == sc["checks"] == len(chaos.CHECKS), (victim, sc)
    # the turns that could not go on say why: their own worker (or the broker) went away
    assert scenarios["router"]["reason"] == "router_offline"
    assert scenarios["llm"]["reason"] == "llm_offline"
    assert scenarios["broker"]["reason"] == "connection_lost"
    assert result["hung"] == 0 and result["crossed"] == 0
