"""Incremental sentence splitting of streamed LLM text, so TTS can start on the first sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Abbreviations that never end a sentence ("Dr. Smith", "e.g. apples").
NEVER_FINAL = frozenset(
    {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "e.g", "i.e", "cf", "approx",
     "no", "fig", "mt", "capt", "gen", "sgt", "lt", "col", "rev", "hon", "gov", "sen", "rep"}
)
# Abbreviations that end a sentence only when the next word is capitalised ("... etc. Then").
MAYBE_FINAL = frozenset(
    {"etc", "u.s", "u.k", "u.n", "e.u", "a.m", "p.m", "inc", "ltd", "co", "corp", "jan", "feb",
     "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
)
TERMINALS = ".!?…"
CLOSERS = "\"')]}”’»"
BULLET = re.compile(r"^\s*(?:[-*•·–—]|#{1,6})\s+")
MARKUP = re.compile(r"\*+|`+")
DOTTED = re.compile(r"^(?:[a-z]\.)+[a-z]$")
WORD_BEFORE = re.compile(r"([\w.]+)$")
SOFT_BREAKS = (", ", "; ", ": ", " – ", " — ")


@dataclass(frozen=True, slots=True)
class SplitterConfig:
    """Knobs of :class:`SentenceSplitter`.

    ``max_chars``: a run-on segment longer than this is cut at the last comma/semicolon/colon
    (or, failing that, the last space) so TTS is never starved; ``min_soft_chars``: a soft cut
    is only taken after at least this many characters; ``first_clause_chars``: when > 0, the
    first clause of the text (at its first comma/semicolon/colon/dash at least this far in) comes
    out alone as soon as it is complete, so TTS starts on it while the rest is generated.
    """

    max_chars: int = 180
    min_soft_chars: int = 40
    first_clause_chars: int = 0

    def __post_init__(self) -> None:
        if self.max_chars < 20 or not 0 < self.min_soft_chars < self.max_chars:
            raise ValueError("need max_chars >= 20 and 0 < min_soft_chars < max_chars")
        if not 0 <= self.first_clause_chars < self.max_chars:
            raise ValueError("need 0 <= first_clause_chars < max_chars")


STREAMED = SplitterConfig(first_clause_chars=4)
"""A reply streamed to TTS: its first clause is spoken alone (as the tts worker does)."""


class SentenceSplitter:
    """Feed text deltas with :meth:`feed`; complete sentences come out as soon as they are known.

    A boundary is a terminal mark (``. ! ? …``) optionally followed by closing quotes or
    brackets and then whitespace, or a line break. A period after a known abbreviation, a
    list number at the start of a line, a decimal point, or an ellipsis followed by a
    lower-case word is not a boundary. Call :meth:`flush` at the end of the stream.
    """

    def __init__(self, config: SplitterConfig | None = None) -> None:
        self._config = config or SplitterConfig()
        self._buf = ""
        self._emitted = False

    @property
    def pending(self) -> str:
        """Text received but not yet emitted."""
        return self._buf

    def feed(self, delta: str) -> list[str]:
        """Add a delta; return the sentences it completed (possibly none)."""
        self._buf += delta
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of stream: return whatever is left as sentences and reset."""
        out = self._drain(final=True)
        rest = _clean(self._buf)
        self._buf = ""
        if rest:
            out.append(rest)
        return out

    def reset(self) -> None:
        """Drop pending text (for example after a barge-in)."""
        self._buf = ""
        self._emitted = False

    def _drain(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while self._buf:
            cut = _find_boundary(self._buf, final=final)
            if cut is None and not self._emitted:
                cut = self._first_clause_cut()
            if cut is None:
                cut = self._run_on_cut()
            if cut is None:
                break
            piece, self._buf = self._buf[:cut], self._buf[cut:]
            text = _clean(piece)
            if text:
                out.append(text)
                self._emitted = True
        return out

    def _first_clause_cut(self) -> int | None:
        least = self._config.first_clause_chars
        if least <= 0:
            return None
        found = [(at, mark) for mark in SOFT_BREAKS if (at := self._buf.find(mark, least - 1)) >= 0]
        if not found:
            return None
        at, mark = min(found)
        return at + len(mark) if _clean(self._buf[:at]) else None

    def _run_on_cut(self) -> int | None:
        cfg = self._config
        if len(self._buf) <= cfg.max_chars:
            return None
        window = self._buf[: cfg.max_chars + 1]
        found = [window.rfind(mark) for mark in SOFT_BREAKS]
        soft = max((at + len(mark) - 1 for at, mark in zip(found, SOFT_BREAKS, strict=True) if at >= 0),
                   default=-1)
        if soft >= cfg.min_soft_chars:
            return soft
        space = window.rfind(" ")
        if space > 0:
            return space + 1
        return cfg.max_chars


def split_sentences(text: str, config: SplitterConfig | None = None) -> list[str]:
    """Split a complete text into sentences (one-shot helper)."""
    splitter = SentenceSplitter(config)
    return splitter.feed(text) + splitter.flush()


def _clean(piece: str) -> str:
    text = MARKUP.sub("", BULLET.sub("", piece.strip())).strip()
    return text if any(ch.isalnum() for ch in text) else ""


def _find_boundary(buf: str, *, final: bool) -> int | None:
    """Index just past the first sentence end in ``buf``; None if none is known yet."""
    i = 0
    n = len(buf)
    while i < n:
        ch = buf[i]
        if ch in "\r\n":
            return i + 1
        if ch not in TERMINALS:
            i += 1
            continue
        end = i
        while end < n and buf[end] in TERMINALS:
            end += 1
        while end < n and buf[end] in CLOSERS:
            end += 1
        if end == n:
            return end if final else None
        if not buf[end].isspace():
            i = end
            continue
        verdict = _judge(buf, i, end, final=final)
        if verdict is None:
            return None
        if verdict:
            return end
        i = end
    return None


def _judge(buf: str, start: int, end: int, *, final: bool) -> bool | None:
    """Is the terminal run ``buf[start:end]`` (followed by whitespace) a sentence end?"""
    marks = buf[start:end].rstrip(CLOSERS)
    quoted = len(marks) < end - start
    nxt = _next_visible(buf, end)
    if marks.startswith(("?", "!")) or (len(marks) > 1 and marks[0] == "." and marks[1] != "."):
        # 'She yelled "Stop!" and ran.': inside quotes, only a capital after it ends the sentence
        return _capital_follows(nxt, final) if quoted else True
    ellipsis = marks.startswith(("…", ".."))
    if ellipsis:
        return _capital_follows(nxt, final)
    word = _word_before(buf, start)
    lower = word.lower()
    if lower in NEVER_FINAL:
        return False
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial: "J. R. R. Tolkien"
    if word.isdigit() and not BULLET.sub("", buf[: start - len(word)]).strip():
        return False  # a numbered list item: "1. Open the door."
    if lower in MAYBE_FINAL or DOTTED.match(lower):
        return _capital_follows(nxt, final)
    return True


def _capital_follows(nxt: str | None, final: bool) -> bool | None:
    if nxt is None:
        return True if final else None
    return nxt.isupper() or nxt.isdigit() or nxt in "\"“'‘(["


def _next_visible(buf: str, pos: int) -> str | None:
    while pos < len(buf):
        if buf[pos] in "\r\n":
            return "A"  # a line break after the mark ends the sentence anyway
        if not buf[pos].isspace():
            return buf[pos]
        pos += 1
    return None


def _word_before(buf: str, pos: int) -> str:
    match = WORD_BEFORE.search(buf[:pos])
    return match.group(1).lstrip(".") if match else ""
