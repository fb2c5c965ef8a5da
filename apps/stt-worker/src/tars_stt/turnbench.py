"""``tars bench turn``: does the early end of a turn hear meaning? Smart Turn v3 against the
transcript's completeness, on whole utterances (should end) and the same audio cut mid-sentence
at a word boundary (should wait), spoken by piper and espeak-ng."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE, int16_to_float
from tars.testing.speech import words
from tars_stt.completeness import is_complete
from tars_stt.endpointer import Endpointer, EndpointerSettings, PauseStarted
from tars_stt.smartturn import SmartTurn
from tars_stt.transcriber import WhisperTranscriber, bundled_model_path

Int16Array = npt.NDArray[np.int16]

SENTENCES = (
    ("Set a timer for ten minutes.", 4),
    ("What is the capital of France?", 5),
    ("Remember that my sister likes yellow tulips.", 4),
    ("Turn on the lights in the kitchen.", 6),
    ("Remind me to call my mother tomorrow.", 5),
    ("How far away is the moon from the earth?", 5),
    ("Add eggs and milk to the shopping list.", 6),
    ("Play some jazz music in the living room.", 5),
    ("What will the weather be like on Saturday?", 7),
    ("Please close the garage door.", 3),
    ("Tell me a joke about penguins.", 5),
    ("Send a message to Anna saying I will be late.", 6),
    ("Wake me up at seven in the morning.", 5),
    ("How many cups are there in a gallon?", 7),
    ("Switch off the heating when I leave the house.", 5),
    ("What did I ask you to remember yesterday?", 6),
)
"""Each sentence and how many of its words the cut version keeps ("Set a timer for")."""
METHODS = ("completeness", "smart_turn", "both")
LEAD_S, TAIL_S = 0.5, 1.5


@dataclass
class Check:
    """One decision point: the audio up to a pause, what each method says, and its cost."""

    kind: str  # "whole" (should end), "cut" (should wait), "inner" (a pause inside speech)
    probability: float
    text: str
    smart_ms: float
    whisper_ms: float

    def ends(self, method: str, threshold: float) -> bool:
        smart, complete = self.probability >= threshold, is_complete(self.text)
        return {"smart_turn": smart, "completeness": complete, "both": smart and complete}[method]


@dataclass
class Tally:
    checks: list[Check] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    cut_heard_as_prefix: int = 0


class Aligner:
    """Word times from faster-whisper (the bundled model), to cut speech at a word boundary."""

    def __init__(self) -> None:
        from faster_whisper import WhisperModel  # type: ignore[import-untyped,unused-ignore]

        self._model = WhisperModel(str(bundled_model_path()), device="cpu", compute_type="int8",
                                   local_files_only=True)

    def _heard(self, samples: Int16Array, *, timestamps: bool) -> list[Any]:
        lead = np.zeros(int(LEAD_S * SAMPLE_RATE), dtype=np.int16)  # the first word is heard
        segments, _ = self._model.transcribe(int16_to_float(np.concatenate([lead, samples])),
                                             language="en", beam_size=1,
                                             word_timestamps=timestamps, vad_filter=False,
                                             condition_on_previous_text=False,
                                             without_timestamps=not timestamps)
        if timestamps:
            return [w for seg in segments for w in (seg.words or [])]
        return [w for seg in segments for w in words(seg.text)]

    def cut_after(self, samples: Int16Array, keep: int, expected: list[str]) -> int | None:
        """A cut between word ``keep`` and the next: from a little before Whisper's end of that
        word, the first point (20 ms steps) where the audio before it is heard as exactly the
        first ``keep`` words, moved to the quietest 10 ms within the next 150 ms (a stop's
        closure, the gap before the next word); None when no point is heard so."""
        heard = self._heard(samples, timestamps=True)
        if len(heard) < keep:
            return None
        step, hop = SAMPLE_RATE // 50, SAMPLE_RATE // 100
        first = max(step, int((float(heard[keep - 1].end) - LEAD_S - 0.3) * SAMPLE_RATE))
        for at in range(first, min(samples.size, first + int(1.0 * SAMPLE_RATE)), step):
            if self._heard(samples[:at], timestamps=False) != expected[:keep]:
                continue
            starts = list(range(at, min(samples.size - hop, at + int(0.15 * SAMPLE_RATE)), hop))
            if not starts:
                return at
            energy = [float(np.square(samples[i:i + hop].astype(np.float64)).mean())
                      for i in starts]
            return starts[int(np.argmin(energy))] + hop // 2
        return None


def pauses(samples: Int16Array) -> list[PauseStarted]:
    """The worker's decision points: the endpointer's pauses, the last one the real end."""
    ep = Endpointer(EndpointerSettings(end_silence_s=1.2, partial_interval_s=0))
    events = ep.feed(samples) + ep.flush()
    return [e for e in events if isinstance(e, PauseStarted)]


def measure(tally: Tally, kind: str, samples: Int16Array, smart: SmartTurn,
            whisper: WhisperTranscriber) -> str:
    found = pauses(samples)
    if not found:
        tally.skipped.append(f"{kind}: no pause found")
        return ""
    for i, pause in enumerate(found):
        last = i == len(found) - 1
        if not last and kind == "cut":
            continue  # the pauses inside a cut utterance are those of the whole one
        t0 = time.perf_counter()
        p = smart.probability(pause.samples)
        t1 = time.perf_counter()
        text = whisper.transcribe(pause.samples).text
        t2 = time.perf_counter()
        tally.checks.append(Check(kind if last else "inner", p, text,
                                  (t1 - t0) * 1000, (t2 - t1) * 1000))
    return tally.checks[-1].text


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def summary(tally: Tally, threshold: float) -> dict[str, Any]:
    by = {k: [c for c in tally.checks if c.kind == k] for k in ("whole", "cut", "inner")}
    out: dict[str, Any] = {"threshold": threshold}
    for m in METHODS:
        whole = sum(c.ends(m, threshold) for c in by["whole"]) / max(1, len(by["whole"]))
        cut = sum(not c.ends(m, threshold) for c in by["cut"]) / max(1, len(by["cut"]))
        inner = sum(not c.ends(m, threshold) for c in by["inner"]) / max(1, len(by["inner"]))
        out[m] = {"whole_ended": round(whole, 3), "cut_waited": round(cut, 3),
                  "inner_waited": round(inner, 3), "balanced": round((whole + cut) / 2, 3)}
    out["best"] = max(METHODS, key=lambda m: (out[m]["balanced"], out[m]["inner_waited"]))
    for k in ("whole", "cut"):
        probs = [c.probability for c in by[k]]
        out[f"p_{k}_median"] = round(statistics.median(probs), 3) if probs else None
    return out


def _bench(voices: list[str], threshold: float, threads: int) -> dict[str, Any]:
    from tars.testing import speech

    smart = SmartTurn(threads=threads)
    whisper = WhisperTranscriber()
    started = time.perf_counter()
    smart.load()
    load_s = time.perf_counter() - started
    whisper.load()
    aligner = Aligner()
    lead = np.zeros(int(LEAD_S * SAMPLE_RATE), dtype=np.int16)
    tail = np.zeros(int(TAIL_S * SAMPLE_RATE), dtype=np.int16)
    per_voice: dict[str, Any] = {}
    every = Tally()
    for voice in voices:
        say = speech.piper if voice == "piper" else speech.espeak
        tally = Tally()
        for text, keep in SENTENCES:
            audio = say(text)
            expected = words(text)
            cut = aligner.cut_after(audio, keep, expected)
            if cut is None:
                tally.skipped.append(f"{voice}: {text!r} not aligned")
                continue
            measure(tally, "whole", np.concatenate([lead, audio, tail]), smart, whisper)
            heard = measure(tally, "cut", np.concatenate([lead, audio[:cut], tail]), smart,
                            whisper)
            tally.cut_heard_as_prefix += words(heard) == expected[:keep]
        per_voice[voice] = summary(tally, threshold) | {
            "utterances": len(SENTENCES) - len(tally.skipped),
            "cut_heard_as_prefix": tally.cut_heard_as_prefix}
        every.checks += tally.checks
        every.skipped += tally.skipped
    smart_ms = [c.smart_ms for c in every.checks]
    whisper_ms = [c.whisper_ms for c in every.checks]
    return {
        "bench": "turn",
        "voices": voices,
        "checks": len(every.checks),
        "whole": sum(c.kind == "whole" for c in every.checks),
        "cut": sum(c.kind == "cut" for c in every.checks),
        "inner_pauses": sum(c.kind == "inner" for c in every.checks),
        **summary(every, threshold),
        "per_voice": per_voice,
        "smart_turn_threads": threads,
        "smart_turn_load_s": round(load_s, 2),
        "smart_turn_p50_ms": round(_pct(smart_ms, 0.5), 1),
        "smart_turn_p95_ms": round(_pct(smart_ms, 0.95), 1),
        "whisper_p50_ms": round(_pct(whisper_ms, 0.5), 1),
        "skipped": every.skipped,
    }


def run(voices: str = "piper,espeak", threshold: float = 0.5, threads: int = 1) -> dict[str, Any]:
    """Every sentence whole and cut mid-sentence, per voice ("piper", "espeak"); each method's
    share of whole utterances ended early, of cut ones (and of pauses inside speech) waited on,
    and the time of one Smart Turn check on ``threads`` threads."""
    chosen = [v.strip() for v in str(voices).split(",") if v.strip()]
    if not chosen or any(v not in ("piper", "espeak") for v in chosen):
        raise ValueError('voices: "piper", "espeak" or both, comma separated')
    return _bench(chosen, float(threshold), int(threads))
