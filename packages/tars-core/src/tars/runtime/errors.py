"""Runtime errors, and the one tree of every tars exception.

Every exception tars raises derives from ``TarsError``, so ``except TarsError`` catches any
tars failure. A class that is also a builtin error still is one (noted in brackets), so an
``except ValueError`` around it keeps its meaning. Foreign errors (pydantic, OS, httpx, the
model libraries) are converted at the edge with ``raise ... from exc``. Each worker's errors
are drawn under the module that defines them; module-private control-flow exceptions (named
``_...``) derive from ``TarsError`` too but are not drawn.

    TarsError                       tars.errors: the root
    ├── BusError                    the broker could not be reached or refused an operation
    ├── RequestError                a request/response exchange did not complete
    │   ├── RequestTimeout          no reply within the timeout [TimeoutError]
    │   └── RequestCancelled        the requester shut down or cancelled
    ├── ConfigError                 a setting has a bad value (the message names the setting)
    ├── DecodeError                 tars.contracts: bytes that are not a tars message [ValueError]
    ├── AudioFormatError            tars.audio: audio tars cannot read [ValueError]
    ├── NoAudioDeviceError          tars.audio: no usable sound device [RuntimeError]
    ├── SoundCardError              tars.testing.soundcard: the virtual card failed [RuntimeError]
    ├── ApiError                    tars_gateway.errors: an HTTP error in OpenAI's shape
    │   ├── BadRequest              400 invalid_request_error
    │   ├── Unauthorized            401 authentication_error
    │   ├── TooLarge                413 invalid_request_error
    │   ├── UnsupportedMedia        415 invalid_request_error
    │   └── Unavailable             503 / 504 server_error (a worker is missing or silent)
    ├── LLMError                    tars_llm.errors: the LLM engine
    │   ├── ModelAssetError         model file missing, incomplete or failing its checksum
    │   ├── ModelLoadError          llama.cpp could not load the model file
    │   ├── PromptTooLongError      the prompt does not fit the model's context window
    │   └── ProviderError           a remote OpenAI-compatible endpoint failed
    │       ├── ProviderConnectionError    connection refused / DNS / TLS failure
    │       ├── ProviderTimeoutError       connect or read timeout
    │       ├── ProviderHTTPError          non-2xx HTTP status (``status`` attribute)
    │       └── ProviderProtocolError      malformed SSE stream or JSON chunk
    ├── ToolFailed                  tars_llm.service: a bus tool answered with an error or not at all
    ├── MemoryEngineError           tars_memory.errors: the memory engine
    │   ├── EmbedderError           model missing, not loaded, or failed to run
    │   ├── StoreClosedError        the store was used after close()
    │   ├── DimensionMismatchError  stored vectors do not match the configured model
    │   ├── StorageError            the data directory refused a write (read-only, full...)
    │   └── CharacterError          character profile file or update is invalid
    ├── QueryRejected               tars_memory.service: a query the worker will not serve [ValueError]
    ├── DependencyDown              tars_router.deps: a worker the turn waits for went away
    ├── SttError                    tars_stt.errors: the speech-to-text engine
    │   ├── ModelLoadError          the Whisper model could not be found or loaded
    │   ├── ModelNotLoadedError     transcribe() called before load()
    │   └── SourceClosedError       push() into a QueueSource that was closed
    ├── AecUnavailable              tars_stt.aec: libspeexdsp cannot be loaded [RuntimeError]
    ├── ToolError                   tars_tools.errors: the tool engine
    │   ├── UnknownToolError        no tool of that name
    │   ├── ToolArgumentError       arguments do not fit the tool's schema
    │   ├── ToolExecutionError      the tool ran and failed (its message is safe to show the LLM)
    │   │   ├── CalculatorError     an expression was refused or could not be evaluated
    │   │   └── TimerStorageError   tars_tools.timerstore: the timer database refused a write
    │   ├── ToolUnavailableError    the tool exists but cannot run here now (server down, routed)
    │   └── ToolTimeoutError        the tool did not answer in time
    ├── TtsError                    tars_tts.errors: the tts engine
    │   ├── TextRejectedError       the text cannot be spoken as given [ValueError]
    │   │   ├── EmptyTextError      nothing speakable is left after cleaning
    │   │   └── TextTooLongError    the cleaned text is longer than ``max_chars``
    │   ├── VoiceNotFoundError      the configured voice model / config file does not exist
    │   ├── VoiceConfigError        the voice exists but a setting does not fit it (speaker, scales)
    │   ├── SynthesisError          piper failed while synthesizing
    │   └── SpeechQueueClosedError  the queue was closed; no more requests are accepted
    ├── WakeError                   tars_wake.errors: the wake engine
    │   ├── WakeModelError          unknown model name, missing file, or the runtime failed to load it
    │   └── WakeNotLoadedError      process() called before load()
    └── WireError                   tars_wyoming.wire: a Wyoming client got the wire wrong
        ├── BadEvent                one event is rejected with an ``error`` event; the connection goes on
        └── FramingError            the stream cannot be followed any more; the connection is closed

Outside the tree on purpose: ``tars_llm.turns.TurnCancelled``, a cancel signal rather than an
error (like ``asyncio.CancelledError``). The llm worker waits for memory and tools inside
``except TarsError``; a cancelled turn must end there, not pass for a failed wait.

``TarsError`` itself lives in ``tars.errors``, a module without imports, so that
``tars.contracts`` and ``tars.audio`` derive from it without importing the runtime; it is
re-exported here and from ``tars.runtime``. packages/tars-core/tests/test_api.py checks this
drawing against the classes.
"""

from __future__ import annotations

from tars.errors import TarsError as TarsError


class BusError(TarsError):
    """The broker could not be reached or refused an operation."""


class RequestError(TarsError):
    """A request/response exchange did not complete."""


class RequestTimeout(RequestError, TimeoutError):
    """No reply arrived within the timeout."""


class RequestCancelled(RequestError):
    """The request was cancelled (shutdown or explicit cancel)."""


class ConfigError(TarsError):
    """A setting has a bad value; the message names the setting."""
