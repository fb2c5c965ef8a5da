"""Word error rate, for tests and benchmarks of the transcriber."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

from tars_stt.filters import normalize

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _number_words(token: str) -> list[str]:
    """Whisper writes "10", references say "ten": spell out 0..99 so both count the same."""
    if not token.isdigit() or int(token) > 99:
        return [token]
    n = int(token)
    if n < 20:
        return [_ONES[n]]
    return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])


def _wer_words(text: str) -> list[str]:
    return [w for token in normalize(text).split() for w in _number_words(token)]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after normalising."""
    ref = _wer_words(reference)
    hyp = _wer_words(hypothesis)
    return Levenshtein.distance(ref, hyp), len(ref)


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER over (reference, hypothesis) pairs: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        edits += e
        words += n
    if words == 0:
        raise ValueError("word_error_rate needs at least one reference word")
    return edits / words
