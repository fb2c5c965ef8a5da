"""Word error rate, for tests and benchmarks of the transcriber."""

from __future__ import annotations

from collections.abc import Iterable

from rapidfuzz.distance import Levenshtein

from tars_stt.filters import normalize


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference word count) after normalising."""
    ref = normalize(reference).split()
    hyp = normalize(hypothesis).split()
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
