"""Incremental decoding: split UTF-8, stop strings across token boundaries."""

from __future__ import annotations

from tars_llm.stops import StopScanner


def test_multibyte_characters_split_across_tokens() -> None:
    scanner = StopScanner([])
    data = "café ☕".encode()
    out = "".join(scanner.feed(data[i : i + 1]) for i in range(len(data)))
    assert out + scanner.flush() == "café ☕"


def test_stop_string_split_across_tokens_is_never_emitted() -> None:
    scanner = StopScanner(["<|im_end|>"])
    pieces = ["Hello", " world", "<|im", "_", "end|>", "junk"]
    out = ""
    for piece in pieces:
        out += scanner.feed(piece.encode())
        if scanner.stopped:
            break
    assert out == "Hello world" and scanner.stopped and scanner.flush() == ""


def test_a_false_start_of_a_stop_string_is_released() -> None:
    scanner = StopScanner(["STOP"])
    assert scanner.feed(b"ST") == ""
    assert scanner.feed(b"AR") == "STAR"
    assert scanner.feed(b"S") == ""
    assert scanner.flush() == "S"
