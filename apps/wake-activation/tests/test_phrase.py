"""Wake phrase in transcript: whole words, case and punctuation tolerant, command extracted."""

from __future__ import annotations

import pytest

from tars_wake import PhraseWakeMatcher


@pytest.mark.parametrize(
    ("text", "phrase", "command"),
    [
        ("Hey Tars, what time is it?", "hey tars", "what time is it?"),
        ("hey tars what time is it", "hey tars", "what time is it"),
        ("HEY, TARS! Turn on the Lights.", "hey tars", "Turn on the Lights."),
        ("Hey-Tars... set a timer", "hey tars", "set a timer"),
        ("Hey Tars.", "hey tars", ""),
        ("Um, hey tars, play music", "hey tars", "play music"),
        ("Okay TARS: lights off", "okay tars", "lights off"),
        ("Hey Tar’s, what's up", "hey tars", "what's up"),
    ],
)
def test_phrase_found_and_command_returned(text: str, phrase: str, command: str) -> None:
    m = PhraseWakeMatcher().match(text)
    assert m is not None
    assert (m.phrase, m.command) == (phrase, command)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "What time is it?",
        "hey starship, go",  # not a whole word
        "They tarsal bones hurt",
        "I told my friend yesterday that hey tars is a nice name",  # too far in
        "tars",
        "Hey, how are you?",
    ],
)
def test_no_false_matches(text: str) -> None:
    assert PhraseWakeMatcher().match(text) is None


def test_aliases_and_custom_phrases() -> None:
    m = PhraseWakeMatcher(["computer"], aliases={"hey stars": "hey tars"})
    hit = m.match("Hey stars, dim the lights")
    assert hit is not None and (hit.phrase, hit.command) == ("hey tars", "dim the lights")
    hit = m.match("Computer. Status report")
    assert hit is not None and hit.command == "Status report"
    assert PhraseWakeMatcher(["hey tars"], max_leading_words=0).match("so hey tars go") is None
    with pytest.raises(ValueError):
        PhraseWakeMatcher(["", "!!"])
