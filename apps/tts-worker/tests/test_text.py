"""Text cleaning for speech: markdown, URLs, emoji, code, limits and sentence splitting."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tars_tts import (
    EmptyTextError,
    TextRejectedError,
    TextTooLongError,
    clean_for_speech,
    speak_url,
    split_sentences,
)


def test_markdown_emphasis_headings_and_lists_become_sentences() -> None:
    md = "# Shopping list\n\nYou need **three** things, *quickly*:\n\n- eggs\n- ~~ham~~ milk\n1. bread"
    out = clean_for_speech(md)
    assert out == "Shopping list. You need three things, quickly: eggs. ham milk. bread."


def test_links_keep_their_text_and_bare_urls_become_domains() -> None:
    out = clean_for_speech("See [the docs](https://docs.python.org/3/x.html) or https://www.github.com/a/b.")
    assert out == "See the docs or github.com."
    assert clean_for_speech("Go to <https://example.org/path>", url_style="a link") == "Go to a link."
    assert speak_url("www.bbc.co.uk/news") == "bbc.co.uk"


def test_code_blocks_are_not_read_out() -> None:
    md = "Run this:\n\n```python\nfor i in range(10):\n    print(i)\n```\n\nThen `ls` the folder."
    out = clean_for_speech(md)
    assert "print" not in out and "range" not in out
    assert out == "Run this: Code omitted. Then ls the folder."


def test_tables_read_cell_by_cell() -> None:
    md = "| city | temp |\n|---|---|\n| Paris | 21 °C |\n| Oslo | 12 °C |"
    assert clean_for_speech(md) == "city, temp. Paris, 21 °C. Oslo, 12 °C."


def test_emoji_and_stray_symbols_are_dropped_numbers_kept() -> None:
    out = clean_for_speech("Done! 🎉👍🏽 It is 3.5 km\u200b away ❤️ --- ok")
    assert out == "Done! It is 3.5 km away ok."


@pytest.mark.parametrize(("text", "spoken"), [
    ("12 * 7 = 84", "12 times 7 equals 84."),
    ("(2 + 3) * 7 / 2 = 17.5", "(2 plus 3) times 7 divided by 2 equals 17.5."),
    ("9 - 3 = 6", "9 minus 3 equals 6."),
    ("10 x 3 is 30, 2^8 is 256", "10 times 3 is 30, 2 to the power of 8 is 256."),
    ("On 12/7 from 9-5, the 2020 - 2021 season, a 4x4.",
     "On 12/7 from 9-5, the 2020 - 2021 season, a 4x4."),
])
def test_arithmetic_is_said_in_words(text: str, spoken: str) -> None:
    assert clean_for_speech(text) == spoken


def test_a_lone_code_block_still_says_so() -> None:
    assert clean_for_speech("```\nx = 1\n```") == "Code omitted."


def test_whitespace_is_collapsed() -> None:
    assert clean_for_speech("  hello \n\n\t  world  ") == "hello. world."


@pytest.mark.parametrize("text", ["", "   ", "🎉🎉", "***", "<br>"])
def test_nothing_speakable_is_rejected(text: str) -> None:
    with pytest.raises(EmptyTextError, match="nothing to speak"):
        clean_for_speech(text)


def test_fifty_thousand_characters_are_refused_with_a_clear_error() -> None:
    with pytest.raises(TextTooLongError, match=r"50000 characters.*limit is 2000.*tts.text.max_chars"):
        clean_for_speech("word " * 10_000)
    with pytest.raises(TextTooLongError) as info:
        clean_for_speech("a" * 2500, max_chars=2000)
    assert info.value.length >= 2500 and info.value.limit == 2000
    assert isinstance(info.value, TextRejectedError) and isinstance(info.value, ValueError)


def test_sentences_split_on_ends_but_not_on_abbreviations() -> None:
    text = "Dr. Smith is in. It costs 3.50 dollars, e.g. Tuesday. Really? Yes! 2 more."
    assert split_sentences(text) == [
        "Dr. Smith is in.", "It costs 3.50 dollars, e.g. Tuesday.", "Really?", "Yes!", "2 more.",
    ]


def test_long_sentences_split_at_clause_boundaries() -> None:
    text = "first clause here, " * 30 + "and the end."
    parts = split_sentences(text, max_sentence_chars=100)
    assert len(parts) > 5 and all(len(p) <= 100 for p in parts)
    assert " ".join(parts) == text.strip()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_cleaned_text_is_bounded_and_free_of_markup(text: str) -> None:
    try:
        out = clean_for_speech(text, max_chars=300)
    except TextRejectedError:
        return
    assert 0 < len(out) <= 300
    assert not any(ch in out for ch in "*`|\n\t")
    assert "http" not in out.lower() or "http" in text.lower().replace("http://", "").replace(
        "https://", ""
    )
    assert " ".join(split_sentences(out)).replace(" ", "") == out.replace(" ", "")
