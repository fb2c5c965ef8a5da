"""`tars bench scale` on a real broker, bounded: every turn answered once with pools of 1 and 2."""

from __future__ import annotations

import pytest

from tars.bench import scale

pytestmark = pytest.mark.broker


def test_bench_scale_counts_turns_without_loss_or_duplicates() -> None:
    costs = scale.Costs(stt_s=0.05, llm_s=0.2, tts_s=0.05, utterance_s=0.3, timeout_s=5.0)
    out = scale.run([2], [1, 2], duration_s=2.0, costs=costs)
    assert [(r["satellites"], r["pool"]) for r in out["runs"]] == [(2, 1), (2, 2)]
    for row in out["runs"]:
        assert row["turns"] >= 2 and row["answered"] == row["turns"]
        assert row["lost_turns"] == 0 and row["duplicated_turns"] == 0
        assert row["voice_to_voice_p50_ms"] >= 1000 * (costs.stt_s + costs.llm_s + costs.tts_s)
        # per turn: its microphone frames (9 or 10), a final, a request, a reply, a say, the audio
        assert row["broker_messages_per_s"] * row["elapsed_s"] >= 12 * row["turns"]
