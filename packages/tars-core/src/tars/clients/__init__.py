"""Clients of the workers, one module per worker: each request and its answer written once.

- ``router``: a text turn → its TurnResult (``RouterClient``; ``RouterWatch`` ends the turns of
  a router that went offline)
- ``stt``: audio → T.AUDIO_MIC frames → the finals heard (``SttClient``, ``stream_audio``,
  ``MicPublisher``, ``FinalCollector``)
- ``tts``: a say request → its statuses and audio (``TtsClient``, ``Speech``, ``Spoken``)
- ``memory``: query / ingest / forget / stats → results or ack, and the worker's status
  (``MemoryClient``)
"""

from tars.clients.memory import MemoryClient
from tars.clients.router import RouterClient, RouterWatch, TurnReply, lost_turn
from tars.clients.stt import FinalCollector, Heard, MicPublisher, SttClient, stream_audio
from tars.clients.tts import Chunk, Speech, Spoken, TtsClient

__all__ = [
    "Chunk",
    "FinalCollector",
    "Heard",
    "MemoryClient",
    "MicPublisher",
    "RouterClient",
    "RouterWatch",
    "Speech",
    "Spoken",
    "SttClient",
    "TtsClient",
    "TurnReply",
    "lost_turn",
    "stream_audio",
]
