"""Speech over the bus: tts/say with ``audio_out`` to the gateway's site, PCM frames back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from tars.clients.tts import Chunk, TtsClient  # Chunk: what speak yields
from tars.contracts.tts import TtsSay
from tars.runtime import Service
from tars_gateway.errors import BadRequest, Unavailable

# OpenAI's stock voice names: tars has its own voice, so these mean "the default voice".
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
                 "verse", "marin", "cedar"}
END_GRACE_S = 2.0

class SpeechClient:
    """Asks the tts worker to speak to the gateway's own site and yields the frames it sends."""

    def __init__(self, service: Service, site: str) -> None:
        self.site = site
        self.tts = TtsClient(service, audio_site=site)

    async def speak(self, text: str, voice: str | None, *, timeout_s: float) -> AsyncGenerator[Chunk, None]:
        """Yield the reply's audio as it arrives (the first chunk within ``timeout_s``)."""
        say = TtsSay(text=text, voice=None if voice in OPENAI_VOICES else voice, audio_out=True)
        speech = await self.tts.say(say, expiry_s=timeout_s)
        complete = False
        try:
            wait = timeout_s
            while True:
                try:
                    chunk = await asyncio.wait_for(speech.audio.get(), wait)
                except TimeoutError:
                    if not speech.got_audio:
                        raise Unavailable("the text-to-speech worker did not answer in time",
                                          code="tts_timeout", status=504) from None
                    complete = True  # the end frame was lost: what came is the reply
                    return
                if chunk is None:
                    complete = True
                    if speech.error is not None and not speech.got_audio:
                        raise BadRequest(f"speech failed: {speech.error}", param="input", code="tts_error")
                    return
                wait = END_GRACE_S + 5.0
                yield chunk
        finally:
            self.tts.forget(speech)
            if not complete:  # the caller went away or gave up: stop synthesizing
                await self.tts.stop(speech)
