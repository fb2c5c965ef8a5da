"""Half/full duplex and mute policy."""

from __future__ import annotations

from tars_stt import DuplexPolicy, DuplexSettings


def test_half_duplex_drops_while_tts_speaks_plus_tail() -> None:
    p = DuplexPolicy(DuplexSettings(mode="half", tail_s=0.5))
    assert not p.should_drop("kitchen", now=9.0)
    p.tts_started("kitchen", at=10.0)
    assert p.should_drop("kitchen", now=10.1)
    assert not p.should_drop("office", now=10.1)  # another site keeps listening
    p.tts_ended("kitchen", at=14.0)
    assert p.should_drop("kitchen", now=14.4)
    assert not p.should_drop("kitchen", now=14.6)


def test_speaking_expires_without_tts_activity_and_with_the_speaker() -> None:
    p = DuplexPolicy(DuplexSettings(idle_s=5.0))
    p.tts_started("kitchen", at=0.0)
    p.tts_activity("kitchen", at=4.0)  # a sentence done: still playing
    assert p.should_drop("kitchen", now=8.5)
    assert not p.should_drop("kitchen", now=9.5)  # 5 s without a sign of the reply
    p.tts_started("kitchen", at=20.0)
    p.tts_started("hall", at=20.0)
    assert p.speaker_gone(at=21.0) == ["kitchen", "hall"]
    assert not p.should_drop("kitchen", now=21.0) and not p.should_drop("hall", now=21.0)


def test_full_duplex_never_drops_for_tts() -> None:
    p = DuplexPolicy(DuplexSettings(mode="full"))
    p.tts_started("kitchen", at=10.0)
    assert p.tts_speaking("kitchen", now=10.5)
    assert not p.should_drop("kitchen", now=10.5)


def test_lost_end_event_stops_dropping_after_max_speaking() -> None:
    p = DuplexPolicy(DuplexSettings(max_speaking_s=60.0, idle_s=30.0))
    p.tts_started("kitchen", at=0.0)
    for t in range(0, 60, 10):
        p.tts_activity("kitchen", at=float(t))
    assert p.should_drop("kitchen", now=59.0)
    assert not p.should_drop("kitchen", now=61.0)


def test_mute_wins_in_both_modes() -> None:
    for mode in ("half", "full"):
        p = DuplexPolicy(DuplexSettings(mode=mode))  # type: ignore[arg-type]
        p.mute("kitchen")
        assert p.is_muted("kitchen") and p.should_drop("kitchen", now=0.0)
        p.unmute("kitchen")
        assert not p.should_drop("kitchen", now=0.0)
