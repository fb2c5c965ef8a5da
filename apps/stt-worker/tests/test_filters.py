"""Transcript filters: empty, Whisper silence hallucinations, TTS echo."""

from __future__ import annotations

import pytest

from tars_stt import EchoFilter, EchoSettings, EmptyFilter, FilterChain, HallucinationFilter, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("[BLANK_AUDIO]", ""),
        ("(music) ♪♪", ""),
        ("It’s TARS's turn.", "it's tars's turn"),
        ("  ...  ", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "...", "[BLANK_AUDIO]", "(silence)", "♪ ♪", "*cough*"])
def test_empty_filter_drops_wordless_text(text: str) -> None:
    rejection = EmptyFilter().check(text)
    assert rejection is not None and rejection.filter == "empty"


@pytest.mark.parametrize(
    "text",
    ["Thank you.", "you", " You", "Thanks for watching!", "THANK YOU FOR WATCHING",
     "Thank you. Thank you. Thank you.", "Subtitles by the Amara.org community"],
)
def test_hallucinations_are_dropped(text: str) -> None:
    rejection = HallucinationFilter().check(text)
    assert rejection is not None and rejection.filter == "hallucination"


@pytest.mark.parametrize(
    "text",
    ["Thank you for the weather report.", "What time is it?", "Tell me about you.", "Okay."],
)
def test_real_requests_are_kept(text: str) -> None:
    assert HallucinationFilter().check(text) is None
    assert FilterChain.default().check(text) is None


def test_custom_hallucination_list() -> None:
    f = HallucinationFilter(["Merci."])
    assert f.check("merci") is not None
    assert f.check("Thank you.") is None


def test_echo_of_recent_tts_is_dropped() -> None:
    echo = EchoFilter()
    echo.note_spoken("The weather today is sunny with a high of 24 degrees.", site_id="kitchen", at=100.0)
    # whisper's rendering of the loudspeaker differs a little
    rejection = echo.check("the weather today is sunny with a high of twenty four degrees",
                           site_id="kitchen", now=102.0)
    assert rejection is not None and rejection.filter == "echo"
    # a fragment of it (the microphone caught the tail)
    assert echo.check("sunny with a high of 24", site_id="kitchen", now=102.0) is not None


def test_echo_window_site_and_short_fragments() -> None:
    echo = EchoFilter(EchoSettings(window_s=5.0))
    echo.note_spoken("Your timer for ten minutes has started.", site_id="kitchen", at=100.0)
    text = "Your timer for ten minutes has started."
    assert echo.check(text, site_id="kitchen", now=104.0) is not None
    assert echo.check(text, site_id="kitchen", now=106.0) is None  # window over
    assert echo.check(text, site_id="office", now=101.0) is None  # another site
    assert echo.check("ten", site_id="kitchen", now=101.0) is None  # one word is not an echo
    assert echo.check("What is the capital of France?", site_id="kitchen", now=101.0) is None
    echo.clear()
    assert echo.check(text, site_id="kitchen", now=101.0) is None


def test_chain_reports_first_rejection() -> None:
    echo = EchoFilter()
    echo.note_spoken("Thank you.", at=0.0)
    chain = FilterChain.default(echo)
    rejection = chain.check("Thank you.", now=1.0)
    assert rejection is not None and rejection.filter == "hallucination"
    assert chain.check("", now=1.0) is not None
