"""Comparing what was said with what Whisper heard: clock times and numbers however written."""

from __future__ import annotations

import pytest

from tars.testing.speech import overlap, words


@pytest.mark.parametrize(("said", "heard"), [
    ("It's 3:04 PM.", "It's 3 0 4 p.m."),
    ("It's 3:02 PM.", "It's 302pm."),
    ("It is 10:15 AM", "it is 10.15 a.m."),
    ("It's 10:00 PM.", "It's 10-0-0-PM."),
    ("It's 8:21 PM.", "It's a 21 pm."),  # the hour heard as a word that sounds like it
    ("1,200 divided by 7", "1200 divided by 7"),
    ("Turn the heating up by two degrees.", "turn the heating up by 2 degrees"),
    ("a timer for twenty five minutes", "a timer for 25 minutes"),
])
def test_the_same_words_however_written(said: str, heard: str) -> None:
    assert words(said) == words(heard)
    assert overlap(said, heard) == 1.0


def test_other_words_do_not_count() -> None:
    assert overlap("It's 3:04 PM.", "It's 4:03 PM.") == pytest.approx(2 / 3)
    assert overlap("what time is it", "") == 0.0


def test_a_tens_number_then_its_unit_is_one_number() -> None:
    assert words("It's 720 8pm.") == words("It's 7:28 PM.") == ["its", "728", "pm"]
    assert words("20 5") == ["25"]
    assert words("1200 7") == ["12007"]  # not a tens number: digits run on as before
