"""What `tars converse` takes as the turn's question when the wake word comes out as a final."""

from __future__ import annotations

import asyncio

from tars.contracts import topics as T
from tars.contracts.stt import SttFinal
from tars.contracts.wake import WakeEvent
from tars.runtime import InMemoryBroker, InMemoryBus, Service
from tars.stack.converse import Conversation

SITE = "kitchen"


def final(text: str) -> SttFinal:
    return SttFinal(text=text, language="en", confidence=0.9, speech_start_s=0.0, speech_end_s=1.0)


async def _settle(check: object) -> None:
    for _ in range(200):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not heard in time")


async def test_the_wake_word_alone_before_its_event_is_not_the_question() -> None:
    broker = InMemoryBroker()
    client = Service("converse", InMemoryBus(broker, "converse"), announce=False)
    workers = Service("workers", InMemoryBus(broker, "workers"), announce=False)
    talk = Conversation(client, SITE)
    await client.start()
    await workers.start()
    try:
        await workers.publish(T.STT_FINAL, final("Hey Jarvis."), correlation_id="early",
                              site_id=SITE)
        await _settle(lambda: talk.record.transcript == "Hey Jarvis.")
        await workers.publish(T.WAKE_EVENT, WakeEvent(model="hey_jarvis", score=0.99),
                              correlation_id="wake-1", site_id=SITE)
        await _settle(lambda: talk.record.woke)
        assert talk.record.transcript == "" and talk.record.correlation_id == "wake-1"
        await workers.publish(T.STT_FINAL, final("Another site's words."),
                              correlation_id="other", site_id=SITE)
        await workers.publish(T.STT_FINAL, final("What time is it?"), correlation_id="wake-1",
                              site_id=SITE)
        await _settle(lambda: talk.record.transcript != "")
        assert talk.record.transcript == "What time is it?"
        assert [name for _, name in talk.record.events] == ["wake", "stt.final"]
    finally:
        await workers.stop()
        await client.stop()
