"""Word error rate helper."""

from __future__ import annotations

import pytest

from tars_stt.metrics import word_error_rate, word_errors


def test_word_error_rate() -> None:
    assert word_error_rate([("Set a timer for ten minutes.", "set a timer for 10 minutes")]) == 0
    assert word_error_rate([("It is 42.", "it is forty two")]) == 0
    assert word_errors("turn the lights on", "turn lights of") == (2, 4)
    assert word_errors("a b", "a b c d") == (2, 2)
    assert word_error_rate([("one two three four", "one two"), ("five six", "five six")]) == 2 / 6
    with pytest.raises(ValueError):
        word_error_rate([("", "anything")])
