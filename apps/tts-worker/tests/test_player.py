"""SpeechQueue behaviour on a model-free tone synthesizer: order, pipelining, controls, expiry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tars_tts import (
    CachingSynthesizer,
    EmptyTextError,
    PhraseCache,
    PlayerSettings,
    SayRequest,
    SentenceSpoken,
    SpeakingEnded,
    SpeakingStarted,
    SpeechEvent,
    SpeechQueue,
    SpeechQueueClosedError,
    TextTooLongError,
)
from tars_tts.synth import AudioChunk, trim_lead_in
from tars_tts.testing import MemorySink, ToneSynthesizer


class Events:
    def __init__(self) -> None:
        self.items: list[SpeechEvent] = []

    async def __call__(self, event: SpeechEvent) -> None:
        self.items.append(event)

    def ended(self) -> dict[str, SpeakingEnded]:
        return {e.correlation_id: e for e in self.items if isinstance(e, SpeakingEnded)}

    def kinds(self, cid: str) -> list[str]:
        return [type(e).__name__ for e in self.items if e.correlation_id == cid]


async def settle(queue: SpeechQueue) -> None:
    await queue.wait_idle()
    await asyncio.sleep(0.02)  # let the event dispatcher run


async def test_replies_play_in_order_with_events() -> None:
    synth, sink, events = ToneSynthesizer(), MemorySink(), Events()
    async with SpeechQueue(synth, sink, on_event=events) as q:
        await q.say(SayRequest("First reply. It has two sentences.", "a"))
        await q.say(SayRequest("Second reply.", "b", site_id="kitchen"))
        await settle(q)
    assert [r.reply_id for r in sink.replies] == ["a", "b"]
    assert all(r.ended and not r.aborted for r in sink.replies)
    assert events.kinds("a") == ["SpeakingStarted", "SentenceSpoken", "SentenceSpoken", "SpeakingEnded"]
    spoken = [e.text for e in events.items if isinstance(e, SentenceSpoken)]
    assert spoken == ["First reply.", "It has two sentences.", "Second reply."]
    end_b = events.ended()["b"]
    assert end_b.reason == "done" and end_b.site_id == "kitchen" and end_b.sentences == 1
    # the audio is the tone for each sentence, nothing lost or repeated
    expected = sum(len(s) for s in ["First reply.", "It has two sentences."]) * 160
    assert sink.replies[0].samples.size == expected


async def test_next_sentence_is_synthesized_while_the_current_one_plays() -> None:
    synth = ToneSynthesizer(ms_per_char=20, delay_s=0.1)  # each sentence ~0.3 s of audio
    sink = MemorySink(pace=1.0)
    async with SpeechQueue(synth, sink) as q:
        await q.say(SayRequest("One sentence here. Two sentence here. Three sentence here.", "p"))
        await settle(q)
    (_, _, end0), (_, start1, _) = synth.calls[0], synth.calls[1]
    first_write = sink.replies[0].write_times[0]
    last_write = sink.replies[0].write_times[-1]
    assert start1 - end0 < 0.05  # sentence 2 started right after sentence 1, not after it played
    assert synth.calls[2][2] < last_write  # all synthesis done before playback finished
    assert first_write - synth.calls[0][1] < 0.2


async def test_stop_ends_a_paced_reply_within_100_ms_and_writes_nothing_more() -> None:
    synth, sink, events = ToneSynthesizer(ms_per_char=30), MemorySink(pace=1.0), Events()
    async with SpeechQueue(synth, sink, on_event=events) as q:
        await q.say(SayRequest("A long sentence that plays for a while. " * 5, "long"))
        await q.say(SayRequest("Queued behind it.", "next"))
        await asyncio.sleep(0.4)
        t0 = time.monotonic()
        assert await q.stop("long")
        stop_s = time.monotonic() - t0
        written = sink.replies[0].samples.size
        await asyncio.sleep(0.3)
        assert sink.replies[0].samples.size == written
        await settle(q)
    assert stop_s < 0.1
    assert sink.replies[0].aborted and not sink.replies[0].ended
    assert 0 < written < 0.8 * sink.replies[0].sample_rate
    assert events.ended()["long"].reason == "stopped"
    assert [r.reply_id for r in sink.replies] == ["long", "next"]  # the queue goes on


async def test_stop_all_drops_the_queue_and_late_parts_stay_silent() -> None:
    synth, sink, events = ToneSynthesizer(ms_per_char=30), MemorySink(pace=1.0), Events()
    async with SpeechQueue(synth, sink, on_event=events) as q:
        await q.say(SayRequest("Streaming part one is rather long indeed.", "s", streamed_part=True))
        await q.say(SayRequest("Queued reply.", "q"))
        await asyncio.sleep(0.2)
        await q.stop()
        await q.say(SayRequest("Late part two.", "s", streamed_part=False))
        await settle(q)
    assert [r.reply_id for r in sink.replies] == ["s"]
    assert events.ended()["s"].reason == "stopped" and events.ended()["q"].reason == "stopped"


async def test_streamed_parts_form_one_reply() -> None:
    synth, sink, events = ToneSynthesizer(), MemorySink(), Events()
    async with SpeechQueue(synth, sink, on_event=events) as q:
        await q.say(SayRequest("Part one.", "r", streamed_part=True))
        await asyncio.sleep(0.05)
        await q.say(SayRequest("Part two.", "r", streamed_part=True))
        await q.say(SayRequest("", "r", streamed_part=False))  # end of stream
        await settle(q)
    assert len(sink.replies) == 1 and sink.replies[0].ended
    assert events.ended()["r"].sentences == 2


async def test_stream_gap_ends_an_abandoned_streamed_reply() -> None:
    sink, events = MemorySink(), Events()
    async with SpeechQueue(ToneSynthesizer(), sink, on_event=events,
                           player=PlayerSettings(stream_gap_s=0.2)) as q:
        await q.say(SayRequest("Part one.", "g", streamed_part=True))
        await settle(q)
    end = events.ended()["g"]
    assert end.reason == "error" and end.error is not None and "no further part" in end.error


async def test_stale_requests_are_never_spoken() -> None:
    synth, sink, events = ToneSynthesizer(ms_per_char=20), MemorySink(pace=1.0), Events()
    async with SpeechQueue(synth, sink, on_event=events) as q:
        await q.say(SayRequest("Already stale.", "old", expires_at=time.time() - 1))
        await q.say(SayRequest("This one takes about half a second.", "busy"))
        await q.say(SayRequest("Goes stale while waiting.", "wait", expires_at=time.time() + 0.2))
        await settle(q)
    assert [r.reply_id for r in sink.replies] == ["busy"]
    assert events.ended()["old"].reason == "expired"
    assert events.ended()["wait"].reason == "expired"
    assert "SpeakingStarted" not in events.kinds("wait")


async def test_pause_resume_and_volume() -> None:
    synth, sink = ToneSynthesizer(ms_per_char=20), MemorySink(pace=1.0)
    async with SpeechQueue(synth, sink) as q:
        q.volume = 0.5
        await q.say(SayRequest("Pause me in the middle please.", "v"))
        await asyncio.sleep(0.15)
        q.pause()
        await asyncio.sleep(0.05)
        n = sink.replies[0].samples.size
        await asyncio.sleep(0.3)
        assert sink.replies[0].samples.size == n and q.paused
        q.resume()
        await settle(q)
        with pytest.raises(ValueError):
            q.volume = 9
    samples = sink.replies[0].samples
    assert samples.size == len("Pause me in the middle please.") * 320
    assert int(np.abs(samples).max()) <= 4001  # tone peak 8000 at half volume


async def test_started_event_reports_first_sample_time() -> None:
    events = Events()
    async with SpeechQueue(ToneSynthesizer(delay_s=0.05), MemorySink(), on_event=events) as q:
        await q.say(SayRequest("Hello there.", "t"))
        await settle(q)
    started = next(e for e in events.items if isinstance(e, SpeakingStarted))
    assert 0.04 < started.latency_s < 0.5


async def test_bad_input_and_synthesis_failure() -> None:
    events = Events()
    async with SpeechQueue(ToneSynthesizer(fail_on="boom"), MemorySink(), on_event=events) as q:
        with pytest.raises(EmptyTextError):
            await q.say(SayRequest("  🎉 ", "e"))
        with pytest.raises(TextTooLongError):
            await q.say(SayRequest("x" * 50_000, "big"))
        await q.say(SayRequest("Fine. Then boom.", "f"))
        await settle(q)
    end = events.ended()["f"]
    assert end.reason == "error" and end.error is not None and "boom" in end.error
    assert end.sentences == 1
    with pytest.raises(SpeechQueueClosedError):
        await q.say(SayRequest("after close", "z"))


class LeadInSynthesizer(ToneSynthesizer):
    """The tone after ``lead_ms`` of near silence, as piper starts every utterance."""

    def __init__(self, lead_ms: int = 80) -> None:
        super().__init__()
        self.lead = self.sample_rate * lead_ms // 1000

    def stream(self, text: str) -> Iterator[AudioChunk]:
        quiet = np.random.default_rng(1).integers(-20, 21, self.lead).astype(np.int16)
        for chunk in super().stream(text):
            yield AudioChunk(np.concatenate([quiet, chunk.samples]), chunk.sample_rate)


async def test_a_reply_starts_at_its_first_sound_and_keeps_later_pauses() -> None:
    synth, sink = LeadInSynthesizer(lead_ms=80), MemorySink()
    async with SpeechQueue(synth, sink) as q:
        await q.say(SayRequest("One sentence. And another.", "a"))
        await settle(q)
    keep, lead = 16_000 * 5 // 1000, synth.lead
    tones = [len("One sentence.") * 160, len("And another.") * 160]
    samples = sink.replies[0].samples
    cut = lead + 1 - keep  # the tone's sample 0 is sin(0): its first sound is sample 1
    assert samples.size == lead + tones[0] + lead + tones[1] - cut  # only the first lead-in goes
    assert np.abs(samples[:keep]).max() <= 20 and np.abs(samples[keep:keep + 40]).max() > 1000


def test_trim_lead_in_leaves_quiet_and_loud_starts_alone() -> None:
    quiet = np.full(1000, 10, dtype=np.int16)
    assert trim_lead_in(quiet, 16_000) is quiet
    loud = np.full(1000, 5000, dtype=np.int16)
    assert trim_lead_in(loud, 16_000).size == 1000
    assert trim_lead_in(np.concatenate([quiet, loud]), 16_000).size == 1000 + 80


async def test_a_prepared_reply_plays_from_the_cache_as_it_would_have_been_synthesized() -> None:
    text = "Sure, here is the answer you asked me for a moment ago. It is short."
    plain_sink, sink = MemorySink(), MemorySink()
    async with SpeechQueue(ToneSynthesizer(), plain_sink) as plain:
        await plain.say(SayRequest(text, "p"))
        await settle(plain)
    tone = ToneSynthesizer()
    cached = CachingSynthesizer(tone, PhraseCache(max_entries=8, max_phrase_chars=60))
    async with SpeechQueue(cached, sink) as q:
        assert await q.prepare(text, first=True) == 3  # "Sure," alone, its rest, the 2nd sentence
        assert not sink.replies  # nothing played
        synthesized = len(tone.calls)
        await q.say(SayRequest(text, "a"))
        await settle(q)
    assert len(tone.calls) == synthesized == 3  # the say synthesized nothing more
    assert cached.cache.stats.hits == 3 and cached.cache.stats.misses == 0
    assert np.array_equal(sink.replies[0].samples, plain_sink.replies[0].samples)


async def test_only_what_the_cache_keeps_is_prepared() -> None:
    tone = ToneSynthesizer()
    cached = CachingSynthesizer(tone, PhraseCache(max_entries=8, max_phrase_chars=20))
    async with SpeechQueue(cached, MemorySink()) as q:
        assert await q.prepare("This sentence is longer than twenty characters.", first=False) == 0
        assert await q.prepare("Short one.", first=False) == 1
        assert await q.prepare("Short one.", first=False) == 1  # already there: not redone
    assert len(cached.cache) == 1 and [c[0] for c in tone.calls] == ["Short one."]
    async with SpeechQueue(ToneSynthesizer(), MemorySink()) as q:  # no phrase cache
        assert await q.prepare("Short one.", first=True) == 0
