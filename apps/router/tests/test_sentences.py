"""Table-driven tests of the streaming sentence splitter."""

from __future__ import annotations

import pytest

from tars_router.sentences import STREAMED, SentenceSplitter, SplitterConfig, split_sentences

CASES: list[tuple[str, str, list[str]]] = [
    ("plain", "Hello there. How are you? Great!", ["Hello there.", "How are you?", "Great!"]),
    ("titles", "Mr. Smith met Dr. Jones today. They talked.",
     ["Mr. Smith met Dr. Jones today.", "They talked."]),
    ("latin", "Eat fruit, e.g. apples, i.e. red ones. Fine.",
     ["Eat fruit, e.g. apples, i.e. red ones.", "Fine."]),
    ("etc mid", "Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
    ("etc end", "Apples, pears, etc. Then vegetables.",
     ["Apples, pears, etc.", "Then vegetables."]),
    ("us mid", "The U.S. economy grew.", ["The U.S. economy grew."]),
    ("us end", "I live in the U.S. It is large.", ["I live in the U.S.", "It is large."]),
    ("decimal", "Pi is about 3.14. That is all.", ["Pi is about 3.14.", "That is all."]),
    ("number ends", "I counted to 10. Then I stopped.", ["I counted to 10.", "Then I stopped."]),
    ("list", "Steps:\n1. Open the door.\n2. Walk in.",
     ["Steps:", "1. Open the door.", "2. Walk in."]),
    ("inline list", "Do this. 1. Open it. 2. Close it.",
     ["Do this.", "1. Open it.", "2. Close it."]),
    ("ellipsis lower", "Well... maybe not. Sure.", ["Well... maybe not.", "Sure."]),
    ("ellipsis upper", "Hmm… Let me think.", ["Hmm…", "Let me think."]),
    ("quote", 'He said "Hi." Then he left.', ['He said "Hi."', "Then he left."]),
    ("bracket", "It works (mostly.) Good.", ["It works (mostly.)", "Good."]),
    ("bang quote", "She yelled \"Stop!\" and ran.", ['She yelled "Stop!" and ran.']),
    ("bullets", "Options:\n- red\n* blue\n• green", ["Options:", "red", "blue", "green"]),
    ("markdown", "**Note:** this is `code`.", ["Note: this is code."]),
    ("initials", "J. R. R. Tolkien wrote it.", ["J. R. R. Tolkien wrote it."]),
    ("urls", "See example.com for more. Bye.", ["See example.com for more.", "Bye."]),
    ("no end", "An unfinished thought", ["An unfinished thought"]),
    ("blank", "  \n\n  ", []),
    ("multi marks", "Really?! Yes.", ["Really?!", "Yes."]),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_shot(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("step", [1, 3, 7])
def test_streamed_in_small_deltas_gives_the_same(text: str, expected: list[str], step: int) -> None:
    splitter = SentenceSplitter()
    out: list[str] = []
    for i in range(0, len(text), step):
        out += splitter.feed(text[i : i + step])
    assert out + splitter.flush() == expected


def test_sentence_is_emitted_as_soon_as_it_is_complete() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("The first sentence") == []
    assert splitter.feed(".") == []  # could still be "3.14" or "U.S."
    assert splitter.feed(" ") == ["The first sentence."]
    assert splitter.feed("Second") == []
    assert splitter.pending == " Second"
    assert splitter.flush() == ["Second"]
    assert splitter.pending == ""


def test_abbreviation_waits_for_the_next_word() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Made in the U.S. ") == []
    assert splitter.feed("It") == ["Made in the U.S."]


def test_run_on_text_is_cut_at_a_comma_before_the_stream_ends() -> None:
    cfg = SplitterConfig(max_chars=60, min_soft_chars=20)
    text = ("this goes on and on without a stop, and it keeps going further, "
            "and further still without ever ending at all")
    splitter = SentenceSplitter(cfg)
    words = text.split(" ")
    pieces: list[str] = []
    words_fed_at_first = 0
    for count, word in enumerate(words, start=1):
        pieces += splitter.feed(word + " ")
        if pieces and not words_fed_at_first:
            words_fed_at_first = count
    pieces += splitter.flush()
    assert pieces[:2] == ["this goes on and on without a stop,", "and it keeps going further,"]
    assert 0 < words_fed_at_first < len(words)  # came out while the stream was still running
    assert " ".join(pieces) == text
    assert all(len(p) <= 60 for p in pieces)


def test_run_on_without_commas_is_cut_at_a_word_boundary() -> None:
    words = [f"word{i}" for i in range(60)]
    pieces = split_sentences(" ".join(words), SplitterConfig(max_chars=50, min_soft_chars=10))
    assert len(pieces) > 3
    assert all(len(p) <= 50 for p in pieces)
    assert " ".join(pieces).split() == words


def test_unbroken_text_is_hard_cut() -> None:
    pieces = split_sentences("x" * 130, SplitterConfig(max_chars=50, min_soft_chars=10))
    assert [len(p) for p in pieces] == [50, 50, 30]


def test_reset_drops_pending_text() -> None:
    splitter = SentenceSplitter()
    splitter.feed("Half a sent")
    splitter.reset()
    assert splitter.feed("New one. ") == ["New one."]


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        SplitterConfig(max_chars=10)
    with pytest.raises(ValueError):
        SplitterConfig(max_chars=100, min_soft_chars=100)


def _streamed(text: str, step: int = 3) -> tuple[list[str], list[str]]:
    """(what came out while ``text`` streamed in ``step``-character deltas, what flush gave)."""
    splitter = SentenceSplitter(STREAMED)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += splitter.feed(text[i:i + step])
    return out, splitter.flush()


def test_a_streamed_reply_gives_its_first_clause_alone_while_the_sentence_goes_on() -> None:
    assert _streamed("Whales are known for their long, thin necks") == (
        ["Whales are known for their long,"], ["thin necks"])
    assert _streamed("Sure, here is a story. It flies.") == (["Sure,", "here is a story."],
                                                             ["It flies."])
    assert _streamed("Well, 384,000 km, roughly.") == (["Well,"], ["384,000 km, roughly."])


def test_only_the_first_clause_and_not_a_short_one_or_a_plain_sentence() -> None:
    assert _streamed("Hi, I'm TARS.") == ([], ["Hi, I'm TARS."])  # "Hi," is under 4 characters
    assert _streamed("The capital of France is Paris.") == ([], ["The capital of France is Paris."])
    assert _streamed("First one. Then, a second, with commas.") == (["First one."],
                                                                    ["Then, a second, with commas."])
    assert split_sentences("Sure, here it is.") == ["Sure, here it is."]  # off unless asked for
    with pytest.raises(ValueError):
        SplitterConfig(first_clause_chars=-1)
