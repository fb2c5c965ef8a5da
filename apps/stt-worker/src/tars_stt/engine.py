"""The STT engine a service wraps: per-site endpointing, duplex policy, transcription, filters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tars_stt.duplex import DuplexPolicy
from tars_stt.endpointer import (
    Endpointer,
    EndpointerSettings,
    EndpointEvent,
    UtteranceEnded,
)
from tars_stt.filters import EchoFilter, FilterChain, Rejection
from tars_stt.transcriber import Transcriber, Transcription


@dataclass(frozen=True, slots=True)
class FinalTranscript:
    """A kept transcript of one utterance, with its audio-clock timing."""

    site_id: str
    transcription: Transcription
    start_s: float
    end_s: float

    @property
    def text(self) -> str:
        return self.transcription.text


@dataclass(frozen=True, slots=True)
class DroppedTranscript:
    """A transcript a filter rejected (logged by the service, not published as final)."""

    site_id: str
    transcription: Transcription
    rejection: Rejection


class SttEngine:
    """``feed`` is cheap (event loop); sync ``transcribe_*`` block, ``*_async`` use a thread."""

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        endpointing: EndpointerSettings | None = None,
        echo: EchoFilter | None = None,
        filters: FilterChain | None = None,
        duplex: DuplexPolicy | None = None,
    ) -> None:
        """``filters`` defaults to empty + hallucination + ``echo`` (a default EchoFilter)."""
        self.transcriber = transcriber
        self.endpointing = endpointing or EndpointerSettings()
        self.echo = echo or EchoFilter()
        self.filters = filters or FilterChain.default(self.echo)
        self.duplex = duplex or DuplexPolicy()
        self._endpointers: dict[str, Endpointer] = {}

    def tts_started(self, site_id: str, text: str = "", *, at: float | None = None) -> None:
        """TTS began speaking ``text`` on ``site_id``: half duplex drops audio, echo is armed."""
        self.duplex.tts_started(site_id, at=at)
        self.echo.note_spoken(text, site_id=site_id, at=at)

    def tts_ended(self, site_id: str, text: str = "", *, at: float | None = None) -> None:
        """TTS finished; the echo window restarts from now for ``text``."""
        self.duplex.tts_ended(site_id, at=at)
        self.echo.note_spoken(text, site_id=site_id, at=at)

    def endpointer(self, site_id: str, *, origin_s: float = 0.0) -> Endpointer:
        """The site's endpointer; a new one starts its audio clock at ``origin_s``."""
        ep = self._endpointers.get(site_id)
        if ep is None:
            ep = self._endpointers[site_id] = Endpointer(self.endpointing, origin_s=origin_s)
        return ep

    def has_site(self, site_id: str) -> bool:
        return site_id in self._endpointers

    def restart_site(self, site_id: str, origin_s: float) -> list[EndpointEvent]:
        """The site's audio clock jumped: close what was in flight, restart at ``origin_s``."""
        events = self.end_of_stream(site_id) if site_id in self._endpointers else []
        self._endpointers[site_id] = Endpointer(self.endpointing, origin_s=origin_s)
        return events

    def feed(
        self, site_id: str, samples: npt.NDArray[np.int16], *, now: float | None = None
    ) -> list[EndpointEvent]:
        """Endpoint one frame from ``site_id``; audio the duplex policy drops is skipped."""
        ep = self.endpointer(site_id)
        if self.duplex.should_drop(site_id, now=now):
            ep.skip(int(samples.size))
            return []
        return ep.feed(samples)

    def end_of_stream(self, site_id: str) -> list[EndpointEvent]:
        return self.endpointer(site_id).flush()

    def transcribe_final(
        self, site_id: str, event: UtteranceEnded, *, now: float | None = None
    ) -> FinalTranscript | DroppedTranscript:
        return self._judge(site_id, event, self.transcriber.transcribe(event.samples), now)

    def judge(
        self, site_id: str, event: UtteranceEnded, result: Transcription, *, now: float | None = None
    ) -> FinalTranscript | DroppedTranscript:
        """Run the filters on a transcription made elsewhere (e.g. in the service's executor)."""
        return self._judge(site_id, event, result, now)

    def _judge(
        self, site_id: str, event: UtteranceEnded, result: Transcription, now: float | None
    ) -> FinalTranscript | DroppedTranscript:
        rejection = self.filters.check(result.text, site_id=site_id, now=now)
        if rejection is not None:
            return DroppedTranscript(site_id, result, rejection)
        return FinalTranscript(site_id, result, event.start_s, event.end_s)
