"""The one topic registry: every topic with its payload model, QoS, retain flag and expiry."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel

from tars.contracts.audio import AudioFrame
from tars.contracts.character import Character, CharacterUpdate
from tars.contracts.errors import ErrorEvent
from tars.contracts.health import Heartbeat, Info, Status
from tars.contracts.llm import LlmCancel, LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.memory import (
    MemoryAck,
    MemoryForget,
    MemoryIngest,
    MemoryQuery,
    MemoryResults,
    MemoryStatsRequest,
)
from tars.contracts.stt import SttControl, SttFinal, SttPartial, SttState
from tars.contracts.tools import ToolCall, ToolRegistry, ToolResult
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.contracts.turn import TextTurn, TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent

ROOT = "tars"
# Access roles: one credential each (satellites: one per site, `satellite-<site>`). "cli" is the
# operator and may read and write everything; every other grant is declared on its topic below.
SERVICES = ("stt", "wake", "router", "llm", "memory", "tools", "tts", "gateway", "wyoming")
SATELLITE = "satellite"
CLI = "cli"
MONITORS = ("gateway",)
"""Roles that read every topic but the audio ones (the gateway's live bus in the web console)."""
ROLES = (*SERVICES, SATELLITE, CLI)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class TopicSpec:
    """A topic ``pattern`` (``{name}`` placeholders are single levels) and how it is used."""

    pattern: str
    model: type[BaseModel]
    type: str
    description: str
    qos: int = 1
    retain: bool = False
    expiry_s: float | None = None
    ordered: bool = False
    binary: bool = False
    pub: tuple[str, ...] = ()
    """Roles that may publish (besides cli); a ``{service}`` level is the publisher's own name,
    a ``{site}`` level a satellite's own site."""
    sub: tuple[str, ...] = ()
    """Roles that may subscribe (besides cli)."""
    command: bool = False
    """A command or request: never retained, and a retained copy is ignored by receivers."""
    shared: tuple[str, ...] = ()
    """Subscriber roles whose instances form a pool here: they subscribe through
    ``$share/<role>/...``, so each message reaches exactly one instance of the role."""
    by_site: tuple[str, ...] = ()
    """Subscriber roles whose pool members split this topic by site (a stable hash of the site
    over the pool size), so one site's stream stays with one instance."""
    params: tuple[str, ...] = field(default=(), init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple(_PLACEHOLDER.findall(self.pattern)))
        if not self.binary:  # the web console shows every message but audio, like `tars monitor`
            object.__setattr__(self, "sub", tuple(dict.fromkeys((*self.sub, *MONITORS))))

    def topic(self, **values: str) -> str:
        """The concrete topic: every placeholder filled; a value must not contain ``/+#``."""
        for name in self.params:
            value = values.get(name, "")
            if not value or any(c in value for c in "/+#"):
                raise ValueError(f"{self.pattern}: bad value {value!r} for {{{name}}}")
        return self.pattern.format(**values) if self.params else self.pattern

    @property
    def filter(self) -> str:
        """The subscription filter: every placeholder becomes ``+``."""
        return _PLACEHOLDER.sub("+", self.pattern)


def _t(path: str) -> str:
    return f"{ROOT}/{path}"


AUDIO_MIC = TopicSpec(_t("audio/{site}/mic"), AudioFrame, "audio.frame",
                      "PCM from a site's microphone (binary frame)", qos=0, binary=True,
                      pub=("stt", "gateway", "wyoming", SATELLITE), sub=("stt", "wake"),
                      by_site=("stt",))
AUDIO_OUT = TopicSpec(_t("audio/{site}/out"), AudioFrame, "audio.frame",
                      "reply PCM for a site's speaker (binary frame)", qos=0, binary=True,
                      ordered=True, pub=("tts",), sub=("gateway", "wyoming", SATELLITE))
AUDIO_REF = TopicSpec(_t("audio/{site}/ref"), AudioFrame, "audio.frame",
                      "PCM the site's local speaker played (echo reference; audio_time_s = "
                      "wall clock of the first sample at the DAC)", qos=0, binary=True,
                      pub=("tts",), sub=("stt", "wake"), by_site=("stt",))
WAKE_EVENT = TopicSpec(_t("wake/event"), WakeEvent, "wake.detected", "wake word heard",
                       pub=("wake", "wyoming", "gateway"), sub=("router", "stt", "tts", "wyoming"),
                       by_site=("stt", "tts"))
STT_PARTIAL = TopicSpec(_t("stt/partial"), SttPartial, "stt.partial",
                        "interim transcript", qos=0, ordered=True, pub=("stt",),
                        sub=("router", "wyoming"))
STT_FINAL = TopicSpec(_t("stt/final"), SttFinal, "stt.final", "final transcript of an utterance",
                      pub=("stt",), sub=("router", "wake", "gateway", "wyoming"))
STT_CONTROL = TopicSpec(_t("stt/control"), SttControl, "stt.control", "mute / unmute",
                        sub=("stt",), command=True)
STT_STATE = TopicSpec(_t("stt/state"), SttState, "stt.state", "mute state", retain=True,
                      pub=("stt",))
ROUTER_TEXT = TopicSpec(_t("router/text"), TextTurn, "router.text",
                        "a typed utterance (tars ask)", expiry_s=30,
                        pub=("gateway", "wyoming"), sub=("router",), command=True)
TURN_EVENT = TopicSpec(_t("turn/event"), TurnEvent, "turn.event",
                       "turn started / stage / ended", ordered=True,
                       pub=("router",), sub=("gateway", "wyoming"))
TURN_RESULT = TopicSpec(_t("turn/result"), TurnResult, "turn.result", "what a turn answered",
                        pub=("router",), sub=("memory", "gateway", "wyoming"), shared=("memory",))
LLM_REQUEST = TopicSpec(_t("llm/request"), LlmRequest, "llm.request",
                        "generate a reply", expiry_s=30,
                        pub=("router",), sub=("llm",), command=True, shared=("llm",))
LLM_STREAM = TopicSpec(_t("llm/stream"), LlmStreamChunk, "llm.chunk",
                       "streamed reply text", ordered=True,
                       pub=("llm",), sub=("router", "gateway"))
LLM_RESPONSE = TopicSpec(_t("llm/response"), LlmResponse, "llm.response", "complete reply",
                         pub=("llm",), sub=("router",))
LLM_CANCEL = TopicSpec(_t("llm/cancel"), LlmCancel, "llm.cancel", "stop generating",
                       pub=("router", "wake"), sub=("llm",), command=True)
TOOLS_REGISTRY = TopicSpec(_t("tools/registry/{provider}"), ToolRegistry, "tools.registry",
                           "tools one provider offers", retain=True,
                           pub=("tools",), sub=("llm",))
TOOLS_CALL = TopicSpec(_t("tools/call"), ToolCall, "tools.call", "call a tool", expiry_s=60,
                        pub=("llm", "router"), sub=("tools",), command=True)
TOOLS_RESULT = TopicSpec(_t("tools/result"), ToolResult, "tools.result", "a tool's result",
                          pub=("tools",), sub=("llm", "router"))
MEMORY_QUERY = TopicSpec(_t("memory/query"), MemoryQuery, "memory.query",
                         "search memory", expiry_s=10,
                         pub=("llm", "tools"), sub=("memory",), command=True, shared=("memory",))
MEMORY_RESULTS = TopicSpec(_t("memory/results"), MemoryResults, "memory.results",
                           "search results", pub=("memory",), sub=("llm", "tools"))
MEMORY_INGEST = TopicSpec(_t("memory/ingest"), MemoryIngest, "memory.ingest", "store a text",
                          pub=("tools",), sub=("memory",), command=True, shared=("memory",))
MEMORY_FORGET = TopicSpec(_t("memory/forget"), MemoryForget, "memory.forget", "delete memories",
                          sub=("memory",), command=True, shared=("memory",))
MEMORY_STATS = TopicSpec(_t("memory/stats"), MemoryStatsRequest, "memory.stats",
                         "ask for memory statistics (reply on memory/ack)",
                         sub=("memory",), command=True, shared=("memory",))
MEMORY_ACK = TopicSpec(_t("memory/ack"), MemoryAck, "memory.ack",
                       "ingest / forget / stats outcome", pub=("memory",), sub=("tools",))
CHARACTER_CURRENT = TopicSpec(_t("character/current"), Character, "character.current",
                              "the persona in use", retain=True,
                              pub=("memory",), sub=("llm",))
CHARACTER_UPDATE = TopicSpec(_t("character/update"), CharacterUpdate, "character.update",
                             "change the persona", sub=("memory",), command=True,
                             shared=("memory",))
TTS_SAY = TopicSpec(_t("tts/say"), TtsSay, "tts.say", "speak text", expiry_s=30, ordered=True,
                  pub=("router", "tools", "gateway", "wyoming"), sub=("tts",), command=True,
                  by_site=("tts",))
TTS_STATUS = TopicSpec(_t("tts/status"), TtsStatus, "tts.status",
                       "speaking started / sentence done / ended", ordered=True,
                     pub=("tts",), sub=("router", "stt", "wake", "gateway", "wyoming"))
TTS_CONTROL = TopicSpec(_t("tts/control"), TtsControl, "tts.control",
                        "stop / pause / resume / volume",
                      pub=("router", "wake", "gateway", "wyoming"), sub=("tts",), command=True)
SYSTEM_STATUS = TopicSpec(_t("system/status/{service}"), Status, "system.status",
                          "online / offline (last will)", retain=True,
                          pub=(*SERVICES, SATELLITE), sub=SERVICES)
SYSTEM_INFO = TopicSpec(_t("system/info/{service}"), Info, "system.info",
                        "service, version, models, capabilities", retain=True,
                        pub=(*SERVICES, SATELLITE), sub=SERVICES)
SYSTEM_HEARTBEAT = TopicSpec(_t("system/heartbeat/{service}"), Heartbeat, "system.heartbeat",
                             "uptime and event-loop lag since the last heartbeat", qos=0,
                             pub=(*SERVICES, SATELLITE), sub=("gateway",))
SYSTEM_ERROR = TopicSpec(_t("system/error"), ErrorEvent, "system.error",
                         "a message a service could not handle",
                         pub=(*SERVICES, SATELLITE))

ALL: tuple[TopicSpec, ...] = tuple(v for v in list(globals().values()) if isinstance(v, TopicSpec))
