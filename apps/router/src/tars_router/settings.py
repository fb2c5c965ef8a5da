"""Settings of the router (section ``[router]`` of config/tars.toml, env ``TARS_<FIELD>``)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from tars.runtime.settings import CoreSettings
from tars_router.turns import TurnConfig, TurnWindows


class Settings(CoreSettings, TurnWindows):
    """Router settings: LLM and TTS timeouts, the degradation sentence, and the turn windows
    (``wake_window_s`` ... ``history_turns``, declared once in :class:`TurnWindows`)."""

    section: ClassVar[str] = "router"

    assistant_name: str = "TARS"
    wake_phrases: list[str] = Field(
        default=["hey jarvis", "jarvis", "hey tars", "tars"],
        description="Stripped from the start of transcripts (the wake word is never the question)")
    intents_files: list[str] = Field(
        default=[], description="hassil template files merged over the packaged intents")
    follow_up: Literal["question", "always", "never"] = Field(
        default="question",
        description="Listen without the wake word after a reply: only if it asked a question, "
                    "always, or never")
    timezone: str = Field(default="", description="IANA zone for time/date answers; empty = local")
    first_chunk_timeout_s: float = Field(default=25.0, gt=0,
                                         description="No reply text by then: apologise")
    intent_tool_timeout_s: float = Field(default=5.0, gt=0,
                                  description="A local intent's tool call (set a timer)")
    tts_start_timeout_s: float = Field(default=3.0, gt=0,
                                       description="No TTS status by then: end the turn headless")
    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.3, ge=0)
    volume_step: float = Field(default=0.25, gt=0)
    offline_reply: str = "I can't reach my language model right now."
    dependency_grace_s: float = Field(
        default=2.0, gt=0, description="A worker the LLM needs went down: no reply text by then, "
                                       "the turn ends saying so")
    work_ahead: bool = Field(default=True, description="Resolve speculative transcripts early")
    work_ahead_llm: bool = Field(default=True,
                                 description="Also start the LLM on a speculative transcript")
    llm_prefill: bool = Field(default=True,
                              description="After each turn, have the LLM evaluate the "
                                          "conversation so far, so the next question evaluates "
                                          "only itself")
    work_ahead_tts: bool = Field(default=True,
                                 description="Have TTS synthesize a worked-ahead reply before the "
                                             "final confirms it")

    def turn_config(self) -> TurnConfig:
        """The turn windows of these settings, for a turn machine."""
        return TurnConfig(**{name: getattr(self, name) for name in TurnWindows.model_fields})
