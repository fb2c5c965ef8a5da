"""The gateway's presence on the bus: one Service and the clients of the workers it uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tars.runtime import Clock, Service, SystemClock
from tars.stack.auth import load_or_create_token
from tars_gateway import __version__
from tars_gateway.chat import ChatClient
from tars_gateway.health import HealthTable
from tars_gateway.live import LiveBus, TurnTracker
from tars_gateway.routes import Routes
from tars_gateway.settings import Settings
from tars_gateway.speech import SpeechClient
from tars_gateway.talk import TalkHub
from tars_gateway.transcribe import SttClient


@dataclass
class Gateway:
    settings: Settings
    service: Service
    token: str
    stt: SttClient
    tts: SpeechClient
    router: ChatClient
    health: HealthTable
    live: LiveBus
    turns: TurnTracker
    talk: TalkHub
    clock: Clock


def build_gateway(settings: Settings, service: Service, *, clock: Clock | None = None) -> Gateway:
    """Register every client's handlers on ``service`` (before it starts)."""
    token = settings.api_token or load_or_create_token(Path(settings.token_file))
    prefix = f"gw{service.instance.rsplit('-', 1)[-1]}"
    live = LiveBus(service)
    routes = Routes()
    gw = Gateway(
        settings=settings, service=service, token=token,
        stt=SttClient(service, routes, prefix, settings.slots, settle_s=settings.settle_s),
        tts=SpeechClient(service, f"{prefix}-speech"),
        router=ChatClient(service, prefix, settings.slots),
        health=HealthTable(service, routes), live=live, turns=TurnTracker(service, routes, live),
        talk=TalkHub(service, routes, settings.browser_site), clock=clock or SystemClock(),
    )
    routes.install(service)
    service.models = {"chat": "tars", "transcription": "tars-stt", "speech": "tars-tts"}
    service.capabilities = ["http", "openai", "console", "push-to-talk", f"version:{__version__}"]
    return gw
