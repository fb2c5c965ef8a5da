"""Make assistant text speakable: strip markdown, URLs, emoji and code; split into sentences."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

import emoji
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tars_tts.errors import EmptyTextError, TextTooLongError

UrlStyle = Literal["domain", "a link"]

# Raw input longer than this many times the limit is refused before it is even parsed.
_RAW_FACTOR = 8

_URL = re.compile(r"(?:\bhttps?://|\bwww\.)[^\s<>()\[\]{}\"']+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?"
_LEFTOVER_MARKUP = re.compile(r"[*`|]+|(?<!\w)#+(?=\s)|[-=_~]{3,}|(?<!\w)_+|_+(?!\w)")
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_REPEATED_STOP = re.compile(r"([.!?])(?:\s*[.,;:])+")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*\s+")
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "approx",
     "no", "fig", "inc", "ltd", "co", "mt", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
     "sep", "sept", "oct", "nov", "dec"}
)
# Arithmetic between numbers, said in words ("12 * 7 = 84" -> "12 times 7 equals 84"). "/", "-"
# and "x" only with spaces around them ("12/7" may be a date, "4x4" a car), and "/", "-" only
# in an equation ("the 2020 - 2021 season" is a span).
_ARITHMETIC = re.compile(
    r"(?<=[\d)])(?:\s*([*×÷+=^])\s*|\s+([/x−-])\s+)(?=[\d(]|-\d)")
_OPERATOR_WORDS = {"*": "times", "×": "times", "x": "times", "÷": "divided by", "/": "divided by",
                   "+": "plus", "=": "equals", "^": "to the power of", "-": "minus", "−": "minus"}
_CLAUSE_BREAK = re.compile(r"[,;:\u2014]\s+")
_KEEP = frozenset("°℃℉№©®™")  # symbols the voice can read
_BLOCK_END = frozenset(
    {"paragraph_close", "heading_close", "tr_close", "blockquote_close", "list_item_close"}
)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    # "code" (indented code) is off: indentation in a chat reply is layout, not code.
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("code")


def speak_url(url: str, style: UrlStyle = "domain") -> str:
    """How a URL is spoken: its domain (``github.com``) or the words ``a link``."""
    if style == "a link":
        return "a link"
    target = url if "://" in url else f"http://{url}"
    host = urlsplit(target).hostname or ""
    host = host.removeprefix("www.")
    return host or "a link"


def _replace_urls(text: str, style: UrlStyle) -> str:
    def sub(match: re.Match[str]) -> str:
        raw = match.group(0)
        core = raw.rstrip(_TRAILING_PUNCT)
        return speak_url(core, style) + raw[len(core):]

    return _URL.sub(sub, text)


def _render_inline(children: Sequence[Token], style: UrlStyle) -> str:
    out: list[str] = []
    link_href: str | None = None
    link_text: list[str] = []
    for tok in children:
        if tok.type == "link_open":
            link_href, link_text = str(tok.attrs.get("href", "")), []
        elif tok.type == "link_close":
            label = "".join(link_text).strip()
            if not label or _URL.fullmatch(label) or label == link_href:
                label = speak_url(link_href or label, style)
            out.append(label)
            link_href = None
        elif tok.type in ("text", "code_inline"):
            (link_text if link_href is not None else out).append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            (link_text if link_href is not None else out).append(" ")
    return _replace_urls("".join(out), style)


def _end_block(parts: list[str], current: list[str]) -> None:
    block = _SPACE.sub(" ", " ".join(current)).strip().rstrip(",;").strip()
    current.clear()
    if not block:
        return
    if block[-1] not in ".!?\u2026:":
        block += "."
    parts.append(block)


def _markdown_to_text(text: str, style: UrlStyle, code_placeholder: str) -> str:
    parts: list[str] = []
    current: list[str] = []
    for tok in _markdown().parse(text):
        if tok.type == "inline":
            current.append(_render_inline(tok.children or [], style))
        elif tok.type in ("fence", "code_block"):
            _end_block(parts, current)
            if not parts or parts[-1] != code_placeholder:
                parts.append(code_placeholder)
        elif tok.type in ("th_close", "td_close"):
            current.append(",")
        elif tok.type in _BLOCK_END:
            _end_block(parts, current)
    _end_block(parts, current)
    return " ".join(parts)


def _strip_symbols(text: str) -> str:
    text = emoji.replace_emoji(text, replace="")
    kept = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cf", "Co", "Cs", "So") and not ch.isspace() and ch not in _KEEP:
            continue  # control, format (zero-width), private use, leftover pictographs
        kept.append(ch)
    return "".join(kept)


def _say_operator(m: re.Match[str]) -> str:
    op = m.group(1) or m.group(2)
    if op in "/-−" and "=" not in m.string[m.end():]:
        return m.group(0)
    return f" {_OPERATOR_WORDS[op]} "


def clean_for_speech(
    text: str,
    *,
    max_chars: int = 2000,
    url_style: UrlStyle = "domain",
    code_placeholder: str = "Code omitted.",
) -> str:
    """Return ``text`` as plain speakable sentences.

    Markdown is reduced to its words (link -> link text, table -> cells, code block ->
    ``code_placeholder``), URLs to their domain (or "a link"), emoji are dropped and
    whitespace collapsed. Arithmetic between numbers is said in words ("12 * 7 = 84" ->
    "12 times 7 equals 84"); other numbers and units are left to the voice.

    Raises EmptyTextError if nothing speakable is left, TextTooLongError if the result
    (or the raw input, beyond a generous factor) is longer than ``max_chars``.
    """
    if len(text) > max_chars * _RAW_FACTOR:
        raise TextTooLongError(len(text), max_chars)
    text = unicodedata.normalize("NFC", text)
    text = _ARITHMETIC.sub(_say_operator, text)
    spoken = _markdown_to_text(text, url_style, code_placeholder)
    spoken = _strip_symbols(spoken)
    spoken = _LEFTOVER_MARKUP.sub(" ", spoken)
    spoken = _SPACE.sub(" ", spoken).strip()
    spoken = _SPACE_BEFORE_PUNCT.sub(r"\1", spoken)
    spoken = _REPEATED_STOP.sub(r"\1", spoken)
    if not any(ch.isalnum() for ch in spoken):
        raise EmptyTextError("nothing to speak: the text is empty after cleaning")
    if len(spoken) > max_chars:
        raise TextTooLongError(len(spoken), max_chars)
    return spoken


def _is_abbreviation(text: str, end: int) -> bool:
    start = end
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start:end].rstrip(".").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _split_long(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    cut = -1
    for m in _CLAUSE_BREAK.finditer(sentence, 0, limit):
        cut = m.end()
    if cut <= 0:
        cut = sentence.rfind(" ", 0, limit) + 1
    if cut <= 0:
        cut = limit
    return [sentence[:cut].strip(), *_split_long(sentence[cut:].strip(), limit)]


def first_clause(sentence: str, *, min_chars: int = 4, min_rest: int = 24) -> tuple[str, str] | None:
    """``(clause, rest)`` when ``sentence`` has a clause break (comma, semicolon, colon, dash)
    after at least ``min_chars`` with at least ``min_rest`` characters after it; else None.
    Synthesizing the clause alone gets the first audio of a reply out sooner."""
    for m in _CLAUSE_BREAK.finditer(sentence):
        head, rest = sentence[:m.end()].strip(), sentence[m.end():].strip()
        if len(head) < min_chars:
            continue
        if len(rest) < min_rest or not any(ch.isalnum() for ch in rest):
            return None
        return head, rest
    return None


def split_sentences(text: str, *, max_sentence_chars: int = 240) -> list[str]:
    """Split cleaned text into sentences (long ones at clause boundaries)."""
    sentences: list[str] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        nxt = text[m.end(): m.end() + 1]
        punct_end = m.start() + len(m.group(0).rstrip())
        if not nxt or not (nxt[0].isupper() or nxt[0].isdigit() or nxt[0] in "\"'(\u201c"):
            continue
        if text[m.start()] == "." and _is_abbreviation(text, m.start()):
            continue
        sentences.append(text[start:punct_end].strip())
        start = m.end()
    sentences.append(text[start:].strip())
    out: list[str] = []
    for s in sentences:
        if s:
            out.extend(p for p in _split_long(s, max_sentence_chars) if p)
    return out


__all__ = ["UrlStyle", "clean_for_speech", "first_clause", "speak_url", "split_sentences"]
