"""The voice bench's figures from turn results: text to audio per turn, and each goal's verdict."""

from __future__ import annotations

from typing import Any

from tars.bench.voice import GOALS, summary, text_to_audio, verdict


def turn(v2v: float | None, final: float, sentence: float | None, audio: float | None) -> dict[str, Any]:
    stages: dict[str, float] = {"speech_end": 60.0, "final": final}
    if sentence is not None:
        stages["first_sentence"] = sentence
    if audio is not None:
        stages["first_audio"] = audio
    return {"voice_to_voice_ms": v2v, "stage_ms": stages, "path": "intent"}


def test_text_to_audio_is_per_turn_and_skips_turns_without_audio() -> None:
    results = [turn(400, 300, 310, 350), turn(None, 290, None, None), turn(420, 320, 330, 450)]
    assert text_to_audio(results) == [40.0, 120.0]
    assert summary(results)["text_to_audio_p50_ms"] == 80.0
    assert summary(results)["answered"] == 2


def test_verdict_names_each_goal_met_missed_or_unmeasured() -> None:
    intent = [turn(350, 280, 290, 330), turn(480, 290, 300, 340)]
    llm = [turn(1500, 295, 1100, 1300), turn(1700, 330, 1200, 1400)]
    got = verdict(intent, llm, rss_total_mb=1600.0, ready_s=None)
    assert set(got) == set(GOALS)
    assert got["intent_p50_ms"] is True and got["intent_p95_ms"] is True
    assert got["llm_p50_ms"] is False and got["llm_p95_ms"] is True  # 1600 > 1200, 1690 <= 2000
    assert got["final_p50_ms"] is True  # finals 280, 290, 295, 330: p50 292.5
    assert got["tts_first_audio_p50_ms"] is True  # 40, 40, 200, 200: p50 120, the goal itself
    slow = [turn(1500, 340, 1100, 1300), turn(1700, 350, 1200, 1400)]
    missed = verdict(slow, slow, rss_total_mb=2100.0, ready_s=12.0)
    assert not any(missed[k] for k in ("final_p50_ms", "tts_first_audio_p50_ms", "rss_total_mb",
                                       "ready_s", "intent_p50_ms"))
    assert got["rss_total_mb"] is True and got["ready_s"] is None
