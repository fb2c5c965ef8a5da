"""Pins the exported API of tars-core and of the workers, and the drawn tree of tars errors."""

from __future__ import annotations

import builtins
import importlib
import pkgutil
import re
from collections.abc import Iterator
from types import ModuleType

import pytest

import tars.runtime.errors
from tars.errors import TarsError

EXPORTS: dict[str, set[str]] = {
    "tars.runtime": {
        "Bus", "BusError", "Clock", "ConfigError", "CoreSettings", "Dispatcher", "InMemoryBroker",
        "InMemoryBus", "Inbound", "LagMonitor", "ManualClock", "Message", "ModelExecutor", "Peer",
        "PeerEvent", "Peers", "RequestCancelled", "RequestError", "RequestTimeout", "Requester",
        "Service", "Subscription", "SystemClock", "TarsError", "Will", "load_settings", "topic_matches",
    },
    "tars.clients": {
        "Chunk", "FinalCollector", "Heard", "MemoryClient", "MicPublisher", "RouterClient",
        "RouterWatch", "Speech", "Spoken", "SttClient", "TtsClient", "TurnReply", "lost_turn",
        "stream_audio",
    },
    "tars.contracts": {
        "SCHEMA_VERSION", "DecodeError", "Envelope", "Payload", "TopicSpec", "decode", "encode",
        "new_id", "topics",
    },
    "tars.audio": {
        "SAMPLE_RATE", "AudioFormatError", "AudioSink", "AudioSource", "BadFrames",
        "NoAudioDeviceError", "close_quietly", "describe_devices", "frame_samples",
        "int16_to_float", "one_line", "read_wav", "require_device", "resample", "write_wav",
    },
    "tars.testing.acoustic": {"AcousticStack", "Heard", "Seen", "Watcher", "speech_of"},
    "tars.testing.peers": {"announce"},
    "tars.testing.soundcard": {"Recording", "SoundCardError", "VirtualSoundCard", "available",
                               "virtual_sound_card"},
    "tars.testing.speech": {"espeak", "espeak_available", "piper", "resample", "with_silence"},
    # the workers' packages (tars_llm pins its own in apps/llm-worker/tests/test_api.py)
    "tars_memory": {
        "DEFAULT_MODEL_NAME", "AddResult", "AsyncMemory", "CharacterError", "CharacterRepository",
        "DimensionMismatchError", "EmbedBatcher", "Embedder", "EmbedderConfig", "EmbedderError",
        "HnswMemoryStore", "IndexConfig", "MemoryEngineError", "MemoryFilter", "MemoryRecord",
        "MemoryStore", "NewMemory", "OpenReport", "ScoredRecord", "SentenceTransformerEmbedder",
        "StoreClosedError", "StoreConfig", "default_character_file", "load_character", "run_benchmark",
    },
    "tars_router": {
        "ConversationHistory", "EndReason", "Exchange", "Intent", "IntentMatcher", "IntentName",
        "LocalAnswer", "LocalAnswers", "SentenceSplitter", "SplitterConfig", "Transition", "Turn",
        "TurnConfig", "TurnMachine", "TurnState", "normalize", "say_date", "say_time",
        "split_sentences",
    },
    "tars_stt": {
        "DEFAULT_HALLUCINATIONS", "AudioFanout", "AudioFormatError", "DroppedTranscript",
        "DuplexPolicy", "DuplexSettings", "EchoFilter", "EchoSettings", "EmptyFilter", "EndpointEvent",
        "Endpointer", "EndpointerSettings", "FilterChain", "FinalTranscript", "HallucinationFilter",
        "MicrophoneSource", "ModelLoadError", "ModelNotLoadedError", "NoAudioDeviceError",
        "PartialReady", "QueueSource", "Rejection", "SourceClosedError", "SpeechStarted", "SttEngine",
        "SttError", "Transcriber", "TranscriptFilter", "Transcription", "UtteranceEnded",
        "VoiceActivityDetector", "WavFileSource", "WebRtcVad", "WhisperSettings", "WhisperTranscriber",
        "bundled_model_path", "decode_pcm", "normalize",
    },
    "tars_tools": {
        "QUALIFIER", "BackoffPolicy", "Calculator", "CalculatorError", "CalculatorLimits",
        "DeclaredTool", "FiredTimer", "FunctionTool", "McpServerConfig", "McpTool", "McpToolHub",
        "ServerEvent", "ServerEventKind", "Timer", "TimerKind", "TimerScheduler", "TimerStatus",
        "TimerStore", "Tool", "ToolArgumentError", "ToolError", "ToolExecutionError", "ToolRegistry",
        "ToolResult", "ToolTimeoutError", "ToolUnavailableError", "Toolbox",
        "UnknownToolError", "build_registry", "memory_tool_specs", "next_occurrence",
        "parse_clock_time",
    },
    "tars_tts": {
        "DEFAULT_VOICE", "AudioChunk", "CacheSettings", "CacheStats", "CachingSynthesizer",
        "CallbackSink", "EmptyTextError", "EndReason", "EventHandler", "Pacer", "PhraseCache",
        "PiperSynthesizer", "PlayerSettings", "SayRequest", "SentenceSpoken", "SpeakerSink",
        "SpeakingEnded", "SpeakingStarted", "SpeechEvent", "SpeechQueue", "SpeechQueueClosedError",
        "SynthesisError", "Synthesizer", "TextRejectedError", "TextSettings", "TextTooLongError",
        "TtsError", "TtsSettings", "VoiceConfigError", "VoiceNotFoundError", "VoiceSettings",
        "WavFileSink", "build_synthesizer", "clean_for_speech", "resolve_voice", "speak_url",
        "split_sentences",
    },
    "tars_wake": {
        "CHUNK_SAMPLES", "DEFAULT_PHRASES", "AudioFormatError", "PhraseMatch", "PhraseWakeMatcher",
        "WakeDetection", "WakeDetector", "WakeError", "WakeModelError", "WakeNotLoadedError",
        "WakeSettings", "WakeWordDetector", "builtin_models",
    },
    "tars_wyoming": {"Settings"},
}
PINNED_ELSEWHERE = {"tars_llm"}
APPS = ("tars_gateway", "tars_llm", "tars_memory", "tars_router", "tars_stt", "tars_tools", "tars_tts",
        "tars_wake", "tars_wyoming")
PACKAGES = ("tars", *APPS)
OUTSIDE_THE_TREE = {"tars_llm.turns.TurnCancelled"}
"""Project exceptions that are deliberately not TarsErrors (each one named in the docstring)."""


@pytest.fixture(scope="module")
def project_modules() -> list[ModuleType]:
    """Every module of tars-core and of the workers (their ``__main__`` excepted), imported."""
    modules = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if info.name.rpartition(".")[2] != "__main__":
                modules.append(importlib.import_module(info.name))
    return modules


@pytest.mark.parametrize("module", sorted(EXPORTS))
def test_exported_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == EXPORTS[module]
    assert len(mod.__all__) == len(EXPORTS[module]), "a name is listed twice"
    assert [name for name in mod.__all__ if not hasattr(mod, name)] == []


def test_every_exported_api_is_pinned(project_modules: list[ModuleType]) -> None:
    """tars-core: every module with an ``__all__``; the workers: their package's ``__all__``."""
    exporting = {m.__name__ for m in project_modules if hasattr(m, "__all__")
                 and (m.__name__.startswith("tars.") or m.__name__ in APPS)}
    assert exporting == set(EXPORTS) | PINNED_ELSEWHERE


LINE = re.compile(r"^(?P<indent>(?:│   |    )*)(?P<branch>[├└]── )?(?P<name>\w+)(?P<rest>.*)$")


def drawn_tree() -> dict[str, list[str]]:
    """Path ("TarsError/RequestError/RequestTimeout") -> builtin bases in brackets, as drawn."""
    lines = (tars.runtime.errors.__doc__ or "").splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == ["TarsError"])
    tree: dict[str, list[str]] = {}
    path: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        m = LINE.match(line.removeprefix("    "))
        assert m is not None, line
        depth = len(m["indent"]) // 4 + (m["branch"] is not None)
        path[depth:] = [m["name"]]
        tree["/".join(path)] = re.findall(r"\[(\w+)\]", m["rest"])
    return tree


def real_tree(cls: type[BaseException], path: str) -> Iterator[tuple[str, type[BaseException]]]:
    """Path -> class for TarsError and its public subclasses defined in tars and the workers."""
    yield path, cls
    for sub in cls.__subclasses__():
        if sub.__module__.partition(".")[0] in PACKAGES and not sub.__name__.startswith("_"):
            yield from real_tree(sub, f"{path}/{sub.__name__}")


def test_the_drawn_error_tree_is_the_real_one(project_modules: list[ModuleType]) -> None:
    drawn, real = drawn_tree(), dict(real_tree(TarsError, "TarsError"))
    assert sorted(drawn) == sorted(real)
    for path, marked in drawn.items():
        cls = real[path]
        parent = real.get(path.rpartition("/")[0], BaseException)
        own = {b for b in cls.__mro__ if b.__module__ == "builtins"} - set(parent.__mro__) - {Exception}
        said = {b for name in marked for b in getattr(builtins, name).__mro__}
        assert own <= said, f"{path}: also a {sorted(b.__name__ for b in own - said)}, not drawn"
        assert all(issubclass(cls, getattr(builtins, name)) for name in marked), path


def test_every_tars_exception_is_a_tars_error(project_modules: list[ModuleType]) -> None:
    strays = {f"{obj.__module__}.{obj.__qualname__}" for mod in project_modules for obj in vars(mod).values()
              if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == mod.__name__
              and not issubclass(obj, TarsError)}
    assert strays == OUTSIDE_THE_TREE
    doc = tars.runtime.errors.__doc__ or ""
    assert all(f"``{name}``" in doc for name in OUTSIDE_THE_TREE)
